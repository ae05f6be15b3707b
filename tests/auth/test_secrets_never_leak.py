"""Payments with every provider, then every response, page, log line and table is scanned for the keys."""
import base64
import json
import logging
import re

import pytest

from support.config import CASHIER
from support.databases import query_database
from support.gateways import MIDTRANS_KEY, STATIC_VECTOR, XENDIT_KEY, XENDIT_TOKEN
from support.payments import use_gateway

WEBHOOK_SECRET = "whsec-Generic-Webhook-Secret-For-Tests-42"
SECRETS = (MIDTRANS_KEY, XENDIT_KEY, XENDIT_TOKEN, WEBHOOK_SECRET)


def forms_of(secret: str) -> list[str]:
    """The secret and the ways it could be carried: Basic auth value, a long enough fragment."""
    return [secret, base64.b64encode(f"{secret}:".encode()).decode(), secret[4:-4]]


@pytest.fixture
def app_config(app_config, fake_midtrans, fake_xendit):
    return {**app_config, "MIDTRANS_BASE_URL": fake_midtrans.url, "XENDIT_BASE_URL": fake_xendit.url}


class Recorder:
    """Every response body the shop's server sent, whoever asked."""

    def __init__(self, client):
        self.client = client
        self.bodies: list[str] = []

    def __call__(self, method, url, **kwargs):
        response = getattr(self.client, method)(url, **kwargs)
        self.bodies.append(f"{method.upper()} {url} -> {response.status_code}\n{response.get_data(as_text=True)}")
        return response


def cashier_qris(call) -> str:
    call("post", "/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    for sku in ("SKU0001", "SKU0006"):
        call("post", "/pos/cart/scan", data={"q": sku}, headers={"HX-Request": "true"})
    html = call("post", "/pos/checkout/qris", headers={"HX-Request": "true"}).get_data(as_text=True)
    match = re.search(r'data-payment="([0-9a-f-]+)"', html)
    assert match, html
    return match.group(1)


def order_of(app_config, payment_id) -> str:
    return query_database(app_config["SQLALCHEMY_DATABASE_URI"], "SELECT order_id FROM payments WHERE id = :id",
                          id=payment_id)[0][0]


def test_no_key_token_or_secret_ever_leaves_the_server(app, app_config, client, fake_midtrans, fake_xendit,
                                                       caplog, api_token):
    caplog.set_level(logging.DEBUG)  # urllib3's and requests' debug output included
    use_gateway(app, provider="mock", midtrans_env="sandbox", midtrans_server_key=MIDTRANS_KEY,
                xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN,
                static_qris_payload=STATIC_VECTOR, webhook_secret=WEBHOOK_SECRET)
    call = Recorder(client)
    client.set_cookie("kasir_register", "1")

    # mock: a signed generic webhook pays it
    from kasir.payments.providers.generic import signed_headers
    payment_id = cashier_qris(call)
    order_id = order_of(app_config, payment_id)
    raw = json.dumps({"order_id": order_id, "amount": 7500, "status": "SUCCESS", "ref_no": "R1"}).encode()
    call("post", "/webhooks/qris", data=raw, headers=signed_headers(WEBHOOK_SECRET, raw, "evt-1"))
    call("post", "/webhooks/qris", data=raw, headers=signed_headers("wrong-secret-123456", raw, "evt-2"))
    call("get", f"/pos/payments/{payment_id}/status", headers={"HX-Request": "true"})

    for provider in ("midtrans", "xendit", "static"):
        use_gateway(app, provider=provider)
        payment_id = cashier_qris(call)
        order_id = order_of(app_config, payment_id)
        call("get", f"/pos/payments/{payment_id}/status", headers={"HX-Request": "true"})
        call("post", f"/pos/payments/{payment_id}/check", headers={"HX-Request": "true"})
        if provider == "midtrans":
            fake_midtrans.settle(order_id)
            body = fake_midtrans.notification(order_id)
            call("post", "/webhooks/midtrans", json={**body, "signature_key": "f" * 128})
            call("post", "/webhooks/midtrans", json=body)
        elif provider == "xendit":
            body = fake_xendit.pay(order_id)
            call("post", "/webhooks/xendit", json=body, headers={"x-callback-token": "not-the-token-123"})
            call("post", "/webhooks/xendit", json=body, headers={"x-callback-token": XENDIT_TOKEN})
        else:
            call("post", f"/pos/payments/{payment_id}/confirm", data={"pin": CASHIER[1]},
                 headers={"HX-Request": "true"})
        call("get", f"/pos/payments/{payment_id}/status", headers={"HX-Request": "true"})
        call("post", "/payments", json={"order_id": f"WEB-{provider}", "amount": 12000},
             headers={"Authorization": f"Bearer {api_token}"})

    # Failures carry reasons, never keys: a rejected key, an unreachable gateway.
    use_gateway(app, provider="midtrans", midtrans_server_key="SB-Mid-server-RejectedKey-0000111122")
    call("post", "/pos/cart/scan", data={"q": "SKU0001"}, headers={"HX-Request": "true"})
    refused = call("post", "/pos/checkout/qris", headers={"HX-Request": "true"})
    assert "Server key Midtrans ditolak" in refused.get_data(as_text=True)
    use_gateway(app, midtrans_server_key=MIDTRANS_KEY)
    fake_xendit.stop()
    use_gateway(app, provider="xendit")
    call("post", "/payments", json={"order_id": "WEB-down", "amount": 12000},
         headers={"Authorization": f"Bearer {api_token}"})

    call("post", "/logout")
    call("post", "/login", data={"mode": "password", "username": "owner", "password": "rahasia-toko-1"})
    for provider in ("midtrans", "xendit", "static", "mock"):
        use_gateway(app, provider=provider)
        call("post", "/admin/payment-settings/test", follow_redirects=True)
        call("get", "/admin/payment-settings")
    call("post", "/admin/payment-settings", data={"provider": "midtrans", "midtrans_env": "production"})
    payment_ids = [row[0] for row in query_database(app_config["SQLALCHEMY_DATABASE_URI"], "SELECT id FROM payments")]
    for payment_id in payment_ids:
        call("get", f"/admin/payments/{payment_id}")
    for page in ("/admin", "/admin/payments", "/admin/payments/export.csv", "/admin/audit", "/admin/audit/export.csv",
                 "/admin/dashboard", "/admin/reports/export.csv", "/healthz", "/pos"):
        call("get", page)

    tables = {table: json.dumps(query_database(app_config["SQLALCHEMY_DATABASE_URI"], f"SELECT * FROM {table}"),
                                default=str)
              for table in ("settings", "payments", "payment_logs", "webhook_events", "audit_log")}

    haystacks = {"responses": "\n".join(call.bodies), "logs": caplog.text, **tables}
    assert len(call.bodies) > 40 and "POST /v2/charge" in caplog.text
    for where, text in haystacks.items():
        for secret in SECRETS:
            for form in forms_of(secret):
                assert form not in text, f"{secret[:6]}… found in {where}"
