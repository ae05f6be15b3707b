"""The API on a real waitress server on loopback: concurrent identical requests make one payment, one charge."""
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kasir.payments.providers.generic import signed_headers
from support.databases import query_database

pytestmark = pytest.mark.live

THREADS = 50
TIMEOUT = 30


@pytest.fixture(scope="module")
def token(live_server):
    return live_server.kasir("api-key", "create", "Toko Online").stdout.strip().splitlines()[-1]


def post_concurrently(url, token, body, headers=None):
    """THREADS clients fire the same request at once (each with its own connection)."""
    def send(_):
        with requests.Session() as session:
            return session.post(f"{url}/payments", json=body, timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {token}", **(headers or {})})

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(send, range(THREADS)))


def charges_for(live_server, order_id):
    return query_database(live_server.database_url, "SELECT count(*) FROM mock_ledger WHERE reference = :order_id",
                          order_id=order_id)[0][0]


def payments_for(live_server, token, order_id):
    response = requests.get(f"{live_server.url}/payments", params={"order_id": order_id}, timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"})
    return response.json()["items"]


def test_fifty_identical_keyed_requests_make_one_payment_and_one_charge(live_server, token):
    order_id = f"WEB-{uuid.uuid4().hex[:8]}"
    responses = post_concurrently(live_server.url, token, {"order_id": order_id, "amount": 42000},
                                  {"Idempotency-Key": f"idem-{order_id}"})
    originals = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replays = [r for r in responses if r.headers.get("Idempotent-Replayed") == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_progress) == THREADS
    assert all(r.json() == originals[0].json() for r in replays)
    assert all(r.json()["error"]["code"] == "idempotency_in_progress" for r in in_progress)
    assert len(payments_for(live_server, token, order_id)) == 1
    assert charges_for(live_server, order_id) == 1


def test_fifty_identical_unkeyed_requests_still_make_one_charge(live_server, token):
    order_id = f"WEB-{uuid.uuid4().hex[:8]}"
    responses = post_concurrently(live_server.url, token, {"order_id": order_id, "amount": 42000})
    assert sorted({r.status_code for r in responses}) <= [200, 201, 409]
    assert sum(r.status_code == 201 for r in responses) == 1
    assert len({r.json()["payment_id"] for r in responses if r.status_code in (200, 201)}) == 1
    assert charges_for(live_server, order_id) == 1


def signed_post(live_server, body: dict, event_id: str) -> requests.Response:
    raw = json.dumps(body).encode()
    secret = (live_server.instance / "webhook_secret").read_text().strip()
    with requests.Session() as session:
        return session.post(f"{live_server.url}/webhooks/qris", data=raw, timeout=TIMEOUT,
                            headers=signed_headers(secret, raw, event_id))


def create_payment(live_server, token, amount=42000) -> dict:
    response = requests.post(f"{live_server.url}/payments", timeout=TIMEOUT,
                             headers={"Authorization": f"Bearer {token}"},
                             json={"order_id": f"WEB-{uuid.uuid4().hex[:8]}", "amount": amount})
    assert response.status_code == 201, response.text
    return response.json()


def paid_transitions(live_server, payment_id) -> int:
    return query_database(live_server.database_url,
                          "SELECT count(*) FROM payment_logs WHERE payment_id = :payment_id AND to_status = 'PAID'",
                          payment_id=payment_id)[0][0]


def test_two_hundred_concurrent_replays_of_one_webhook_make_one_transition(live_server, token):
    payment = create_payment(live_server, token)
    body = {"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"], "amount": payment["amount"],
            "status": "SUCCESS", "ref_no": "LIVE1"}
    with ThreadPoolExecutor(THREADS) as pool:
        replies = list(pool.map(lambda _: signed_post(live_server, body, "evt-live-replay"), range(200)))
    assert {reply.status_code for reply in replies} == {200}
    assert sum(reply.json().get("result") == "applied" for reply in replies) == 1
    assert paid_transitions(live_server, payment["payment_id"]) == 1


def test_webhook_with_the_wrong_amount_is_422_and_changes_nothing(live_server, token):
    payment = create_payment(live_server, token)
    reply = signed_post(live_server, {"order_id": payment["order_id"], "amount": payment["amount"] - 1,
                                      "status": "SUCCESS", "ref_no": "X"}, f"evt-{uuid.uuid4().hex}")
    assert reply.status_code == 422
    current = requests.get(f"{live_server.url}/payments/{payment['payment_id']}", timeout=TIMEOUT,
                           headers={"Authorization": f"Bearer {token}"}).json()
    assert current["status"] == "PENDING"


def test_webhook_before_its_payment_is_applied_later_by_the_job_runner(live_server, token):
    import time

    order_id = f"WEB-{uuid.uuid4().hex[:8]}"
    early = signed_post(live_server, {"order_id": order_id, "amount": 15000, "status": "SUCCESS", "ref_no": "E1"},
                        f"evt-{uuid.uuid4().hex}")
    assert early.status_code == 202
    created = requests.post(f"{live_server.url}/payments", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"},
                            json={"order_id": order_id, "amount": 15000}).json()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = requests.get(f"{live_server.url}/payments/{created['payment_id']}", timeout=TIMEOUT,
                              headers={"Authorization": f"Bearer {token}"}).json()["status"]
        if status == "PAID":
            break
        time.sleep(0.5)
    assert status == "PAID"
