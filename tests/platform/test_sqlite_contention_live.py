"""A till, API clients, webhooks and CLI jobs (another process) on one instance at once: nobody sees "database is
locked".

SQLite allows one writer at a time across processes; kasir.database makes writers queue for the lock
instead of failing. Under this mixed load no answer is a 500, and no answer, log line or command output
mentions a lock.
"""
import json
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from kasir.clock import WIB
from kasir.payments.providers.generic import signed_headers
from support.live import TIMEOUT, LiveServer, htmx_headers, log_in_cashier

pytestmark = pytest.mark.live

SALES = 12  # one till: the demo shop has one register, and a register has one cart
PAYMENTS_PER_CLIENT = 12


class Answers:
    """Every response the load got, to check afterwards (a worker thread must not swallow a failure)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen: list[tuple[str, int, str]] = []

    def keep(self, what: str, response: requests.Response) -> requests.Response:
        with self.lock:
            self.seen.append((what, response.status_code, response.text))
        return response


def till_sells(url: str, answers: Answers) -> None:
    session, token = log_in_cashier(url)
    with session:
        for _ in range(SALES):
            answers.keep("clear", session.post(f"{url}/pos/cart/clear", headers=htmx_headers(token), timeout=TIMEOUT))
            for code in ("SKU0001", "SKU0006"):
                answers.keep("scan", session.post(f"{url}/pos/cart/scan", data={"q": code},
                                                  headers=htmx_headers(token), timeout=TIMEOUT))
            answers.keep("qris", session.post(f"{url}/pos/checkout/qris", headers=htmx_headers(token), timeout=TIMEOUT))
            panel = answers.keep("panel", session.get(f"{url}/pos/pay/cash", headers=htmx_headers(token),
                                                      timeout=TIMEOUT))
            sale_id = re.search(r'name="sale_id" value="(\d+)"', panel.text).group(1)
            answers.keep("cash", session.post(f"{url}/pos/checkout/cash",
                                              data={"sale_id": sale_id, "tendered": "10.000"},
                                              headers=htmx_headers(token), timeout=TIMEOUT))


def client_pays(url: str, token: str, secret: str, answers: Answers) -> None:
    with requests.Session() as session:
        for _ in range(PAYMENTS_PER_CLIENT):
            order_id = f"LOCK-{uuid.uuid4().hex[:10]}"
            created = answers.keep("api", session.post(f"{url}/payments", json={"order_id": order_id, "amount": 12_000},
                                                       timeout=TIMEOUT, headers={"Authorization": f"Bearer {token}",
                                                                                 "Idempotency-Key": order_id}))
            payment = created.json()
            answers.keep("api-get", session.get(f"{url}/payments/{payment.get('payment_id', 'x')}", timeout=TIMEOUT,
                                                headers={"Authorization": f"Bearer {token}"}))
            raw = json.dumps({"trx_id": payment.get("provider_trx_id"), "order_id": order_id, "amount": 12_000,
                              "status": "SUCCESS", "ref_no": "R1"}).encode()
            answers.keep("webhook", session.post(f"{url}/webhooks/qris", data=raw, timeout=TIMEOUT,
                                                 headers=signed_headers(secret, raw, f"evt-{order_id}")))


def test_till_api_webhooks_and_cli_jobs_at_once_never_show_a_locked_database(tmp_path):
    # QRs expire within seconds, so `expire` has work to do while the webhooks pay some of them late.
    server = LiveServer(tmp_path, {"EXPIRE_MINUTES": "0.05"}).start()
    try:
        token = server.kasir("api-key", "create", "Toko Online").stdout.strip().splitlines()[-1]
        secret = (tmp_path / "webhook_secret").read_text().strip()
        answers = Answers()
        today = datetime.now(WIB).date().isoformat()
        with ThreadPoolExecutor(4) as pool:
            load = [pool.submit(till_sells, server.url, answers)]
            load += [pool.submit(client_pays, server.url, token, secret, answers) for _ in range(2)]
            jobs = []
            while not all(future.done() for future in load) and len(jobs) < 30:
                for command in (("sync",), ("expire",), ("reconcile", "--date", today)):
                    jobs.append(server.kasir(*command))  # check=True: a failing command fails the test
            for future in load:
                future.result()
        assert len(jobs) >= 3 and len(answers.seen) == SALES * 6 + 2 * PAYMENTS_PER_CLIENT * 3

        assert [(what, status) for what, status, _ in answers.seen if status >= 500] == []
        assert [(what, body[:200]) for what, _, body in answers.seen if "locked" in body.lower()] == []
        cash = [(status, body[:200]) for what, status, body in answers.seen if what == "cash"]
        assert [status for status, _ in cash] == [200] * SALES, cash
        assert sum(what == "api" and status == 201 for what, status, _ in answers.seen) == 2 * PAYMENTS_PER_CLIENT
        for job in jobs:
            assert "locked" not in (job.stdout + job.stderr).lower(), job.stderr
        server.stop()
        log = (tmp_path / "server.log").read_text()
        assert "locked" not in log.lower() and "Traceback" not in log
    finally:
        server.stop()
