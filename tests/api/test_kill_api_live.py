"""`kill -9` during a burst of API payments and signed webhooks, then a restart and every request sent again.

A client that got no answer sends the same request again (same Idempotency-Key, same webhook event id):
afterwards every order has one payment, one charge, one PAID transition, one callback and one stored event.
"""
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kasir.payments.providers.generic import signed_headers
from support.databases import query_database
from support.live import TIMEOUT, LiveServer, free_port

pytestmark = pytest.mark.live

ORDERS = 40


class Shop:
    """Another app of the shop (API client) and its gateway's webhooks, against one live server."""

    def __init__(self, server: LiveServer, token: str, secret: str, callback_url: str):
        self.server, self.token, self.secret, self.callback_url = server, token, secret, callback_url
        self.created: dict[str, dict] = {}  # order_id -> the payment the API answered with
        self.webhook_sent: set[str] = set()

    def body(self, number: int) -> dict:
        return {"order_id": f"KILL-{number:03d}", "amount": 10_000 + number, "callback_url": self.callback_url}

    def create(self, number: int) -> requests.Response:
        return requests.post(f"{self.server.url}/payments", json=self.body(number), timeout=TIMEOUT, headers={
            "Authorization": f"Bearer {self.token}", "Idempotency-Key": f"idem-kill-{number:03d}"})

    def create_until_answered(self, number: int) -> dict:
        """What a well-behaved client does: retry while the API says the request is still in progress."""
        deadline = time.monotonic() + 60
        while (response := self.create(number)).status_code == 409 and time.monotonic() < deadline:
            assert response.json()["error"]["code"] in ("idempotency_in_progress", "order_in_progress"), response.text
            time.sleep(float(response.headers.get("Retry-After", 1)))
        assert response.status_code in (200, 201), response.text
        return response.json()

    def paid_webhook(self, payment: dict) -> requests.Response:
        raw = json.dumps({"trx_id": payment["provider_trx_id"], "order_id": payment["order_id"],
                          "amount": payment["amount"], "status": "SUCCESS",
                          "ref_no": f"REF-{payment['order_id']}"}).encode()
        return requests.post(f"{self.server.url}/webhooks/qris", data=raw, timeout=TIMEOUT,
                             headers=signed_headers(self.secret, raw, f"evt-{payment['order_id']}"))

    def pay(self, number: int) -> None:
        """One order in the burst: create its payment, then the gateway says it is paid."""
        try:
            response = self.create(number)
            if response.status_code not in (200, 201):
                return
            payment = self.created[payment_order(response)] = response.json()
            self.webhook_sent.add(payment["order_id"])  # once it leaves, it may have landed
            self.paid_webhook(payment)
        except requests.RequestException:
            pass  # the server is gone


def payment_order(response: requests.Response) -> str:
    return response.json()["order_id"]


def count(server, sql: str, **params) -> int:
    return query_database(server.database_url, sql, **params)[0][0]


def test_kill_9_mid_burst_then_resending_everything_pays_each_order_exactly_once(tmp_path):
    # Nothing listens on the callback port: callbacks stay in the outbox (retried later), one row per event.
    server = LiveServer(tmp_path, {"GATEWAY_CONNECT_TIMEOUT": "0.5", "GATEWAY_READ_TIMEOUT": "1",
                                   "CALLBACK_ALLOWED_NETWORKS": "127.0.0.1"}).start()
    try:
        token = server.kasir("api-key", "create", "Toko Online").stdout.strip().splitlines()[-1]
        shop = Shop(server, token, (tmp_path / "webhook_secret").read_text().strip(),
                    f"http://127.0.0.1:{free_port()}/kasir-callback")
        with ThreadPoolExecutor(8) as pool:
            burst = [pool.submit(shop.pay, number) for number in range(ORDERS)]
            deadline = time.monotonic() + 60
            while len(shop.webhook_sent) < ORDERS // 4 and time.monotonic() < deadline:
                time.sleep(0.005)
            server.process.kill()  # SIGKILL in the middle of requests
            server.process.wait()
            for future in burst:
                future.result()
        assert ORDERS // 4 <= len(shop.created) < ORDERS

        server.stop()
        server.serve()  # same port, same data
        answers = [shop.create_until_answered(number) for number in range(ORDERS)]
        for answer in answers:
            if answer["order_id"] in shop.created:  # an answer given before the cut is the answer again
                assert answer["payment_id"] == shop.created[answer["order_id"]]["payment_id"]
        replies = [shop.paid_webhook(answer) for answer in answers]
        assert {reply.status_code for reply in replies} == {200}, [reply.text for reply in replies]
        assert {reply.json()["result"] for reply in replies} <= {"applied", "duplicate"}

        for answer in answers:
            order_id, payment_id = answer["order_id"], answer["payment_id"]
            assert query_database(server.database_url, "SELECT status FROM payments WHERE order_id = :o",
                                  o=order_id) == [("PAID",)]
            assert count(server, "SELECT count(*) FROM mock_ledger WHERE reference = :o", o=order_id) == 1
            assert count(server, "SELECT count(*) FROM payment_logs WHERE payment_id = :p AND to_status = 'PAID'",
                         p=payment_id) == 1
            assert count(server, "SELECT count(*) FROM callbacks WHERE payment_id = :p AND event = 'payment.paid'",
                         p=payment_id) == 1
            assert count(server, "SELECT count(*) FROM webhook_events WHERE event_id = :e", e=f"evt-{order_id}") == 1
    finally:
        server.stop()
