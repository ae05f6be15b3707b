"""The API on a real waitress server on loopback: concurrent identical requests make one payment, one charge."""
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

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
    with sqlite3.connect(live_server.instance / "kasir.db") as connection:
        return connection.execute("SELECT count(*) FROM mock_ledger WHERE reference = ?", (order_id,)).fetchone()[0]


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
