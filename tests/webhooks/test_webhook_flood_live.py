"""A flood of unsigned webhooks against a live server: counted, not stored, and the till keeps working
(issue 21, item 1)."""
import json
import re
import threading

import pytest
import requests

from support.databases import query_database
from support.live import TIMEOUT, LiveServer, csrf_from_form, csrf_from_hx_headers, htmx_headers

pytestmark = pytest.mark.live

SENDERS = 4
REQUESTS_PER_SENDER = 60
FORGED_BODY = json.dumps({"order_id": "POS-1-X", "amount": 7500, "status": "SUCCESS", "padding": "x" * 20_000})


@pytest.fixture
def server(tmp_path):
    server = LiveServer(tmp_path, {"RATELIMIT_ENABLED": "true"}).start()  # the limits a shop runs with
    yield server
    server.stop()


def flood(url: str, answers: list[int], started: threading.Event) -> None:
    with requests.Session() as session:
        for number in range(REQUESTS_PER_SENDER):
            answers.append(session.post(f"{url}/webhooks/qris", data=FORGED_BODY, timeout=TIMEOUT, headers={
                "Content-Type": "application/json", "X-Signature": "00" * 32, "X-Event-Id": f"evt-{number}",
                "X-Timestamp": "0"}).status_code)
            started.set()


def cash_sale(url: str) -> requests.Response:
    """The demo cashier logs in, scans two products (Rp 7.500) and is paid Rp 10.000 cash."""
    session = requests.Session()
    login = session.get(f"{url}/login", timeout=TIMEOUT)
    page = session.post(f"{url}/login", timeout=TIMEOUT, data={
        "csrf_token": csrf_from_form(login.text), "mode": "pin", "username": "kasir", "pin": "1234"})
    page = session.post(f"{url}/pos/register", timeout=TIMEOUT,
                        data={"csrf_token": csrf_from_form(page.text), "register": "1"})
    token = csrf_from_hx_headers(page.text)
    for code in ("SKU0001", "SKU0006"):
        session.post(f"{url}/pos/cart/scan", data={"q": code}, headers=htmx_headers(token), timeout=TIMEOUT)
    panel = session.get(f"{url}/pos/pay/cash", headers=htmx_headers(token), timeout=TIMEOUT)
    sale_id = re.search(r'name="sale_id" value="(\d+)"', panel.text).group(1)
    return session.post(f"{url}/pos/checkout/cash", data={"sale_id": sale_id, "tendered": "10.000"},
                        headers=htmx_headers(token), timeout=TIMEOUT)


def test_a_flood_of_unsigned_webhooks_is_counted_not_stored_and_the_till_keeps_selling(server):
    answers: list[int] = []
    started = threading.Event()
    senders = [threading.Thread(target=flood, args=(server.url, answers, started)) for _ in range(SENDERS)]
    for sender in senders:
        sender.start()
    assert started.wait(TIMEOUT)
    paid = cash_sale(server.url)  # while the flood goes on
    for sender in senders:
        sender.join(TIMEOUT * REQUESTS_PER_SENDER)
    assert paid.status_code == 200 and re.search(r"data-change>\s*Rp 2\.500\s*<", paid.text)

    total = SENDERS * REQUESTS_PER_SENDER
    assert len(answers) == total and set(answers) <= {401, 429}
    assert query_database(server.database_url, "SELECT count(*) FROM webhook_events") == [(0,)]
    assert 429 in answers  # past its limit, a sender is refused before its signature is even checked
    server.stop()  # the job runner writes the counts it holds when the server stops
    rows = query_database(server.database_url,
                          "SELECT outcome, source, count, samples FROM webhook_rejections ORDER BY outcome")
    assert [(outcome, source) for outcome, source, _count, _samples in rows] == [
        ("rate_limited", "127.0.0.1"), ("rejected", "127.0.0.1")]
    assert sum(count for _outcome, _source, count, _samples in rows) == total
    for *_key, samples in rows:
        samples = json.loads(samples) if isinstance(samples, str) else samples
        assert len(samples) <= 3 and all(len(sample["body"]) <= 200 for sample in samples)
