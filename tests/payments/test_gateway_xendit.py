"""Xendit QR Codes API (api-version 2022-07-31) against a loopback fake (contracts/xendit.md)."""
import base64
import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from kasir.clock import utcnow
from kasir.extensions import db
from kasir.payments import charges, service, states, sync
from kasir.payments.models import Payment, WebhookDelivery
from kasir.payments.providers import get_provider
from kasir.payments.providers.base import ProviderError
from support.databases import fresh
from support.gateways import XENDIT_KEY, XENDIT_TOKEN
from support.payments import use_gateway


@pytest.fixture
def app_config(app_config, fake_xendit):
    # 1 s: under the fake's 2 s hang (a "lost" answer still times out), above a loaded CI's slowest loopback answer.
    return {**app_config, "XENDIT_BASE_URL": fake_xendit.url, "GATEWAY_READ_TIMEOUT": 1}


@pytest.fixture(autouse=True)
def xendit_active(app):
    use_gateway(app, provider="xendit", xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN)
    with app.app_context():
        yield


def new_payment(till) -> Payment:
    return charges.create_for_sale(till.add("SKU0001", "SKU0006").id)


def callback(client, body, token=XENDIT_TOKEN):
    return client.post("/webhooks/xendit", data=json.dumps(body), content_type="application/json",
                       headers={"x-callback-token": token} if token else {})


def test_create_sends_a_dynamic_idr_qr_with_our_reference(till, fake_xendit):
    payment = new_payment(till)
    [call] = fake_xendit.calls("create")
    body = json.loads(call["body"])
    assert call["headers"]["Authorization"] == "Basic " + base64.b64encode(f"{XENDIT_KEY}:".encode()).decode()
    assert call["headers"]["Api-Version"] == "2022-07-31"
    assert body["reference_id"] == payment.order_id and body["type"] == "DYNAMIC" and body["currency"] == "IDR"
    assert body["amount"] == 7500 and isinstance(body["amount"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expires_at"])
    assert "callback_url" not in body
    assert payment.status == states.PENDING and payment.provider_trx_id.startswith("qr_")


def test_paid_callback_is_applied_once(client, till, fake_xendit):
    payment = new_payment(till)
    body = fake_xendit.pay(payment.order_id)
    response = callback(client, body)
    assert response.status_code == 200 and response.json["result"] == "applied"
    paid = fresh(Payment, payment.id)
    assert paid.status == states.PAID and paid.provider_ref_no == "RCPT123456"
    assert callback(client, body).json == {"result": "duplicate"}
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == body["data"]["id"]))
    assert delivery.provider == "xendit" and "x-callback-token" not in json.dumps(delivery.headers).lower()


@pytest.mark.parametrize("token", [None, "wrong-token-1234567890"])
def test_callback_without_the_right_token_is_401_and_ignored(client, till, fake_xendit, token):
    payment = new_payment(till)
    assert callback(client, fake_xendit.pay(payment.order_id), token=token).status_code == 401
    assert fresh(Payment, payment.id).status == states.PENDING


def test_callback_with_another_amount_is_refused(client, till, fake_xendit):
    payment = new_payment(till)
    response = callback(client, fake_xendit.pay(payment.order_id, amount=100))
    assert response.status_code == 422 and fresh(Payment, payment.id).status == states.PENDING


def test_v1_shaped_callback_is_ignored(client, till, fake_xendit):
    payment = new_payment(till)
    v1 = {"id": "x", "external_id": payment.order_id, "amount": 7500, "status": "COMPLETED"}
    response = callback(client, v1)
    assert response.status_code == 200 and response.json == {"result": "ignored"}
    assert fresh(Payment, payment.id).status == states.PENDING


def test_status_sync_finds_the_payment(till, fake_xendit):
    payment = new_payment(till)
    fake_xendit.pay(payment.order_id)
    sync.check_status(payment, source="manual")
    assert fresh(Payment, payment.id).status == states.PAID


def test_expired_qr_and_cancel(till, fake_xendit):
    payment = new_payment(till)
    assert sync.expire_due(now=payment.expires_at + timedelta(seconds=1)) == 1
    assert fresh(Payment, payment.id).status == states.EXPIRED
    other = new_payment(till)
    assert sync.cancel(other, source="pos").payment.status == states.CANCELLED


def test_refund_uses_the_qr_payment(client, auth, till, fake_xendit):
    payment = new_payment(till)
    callback(client, fake_xendit.pay(payment.order_id))
    auth.login_admin()
    client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "7500", "reason": "Retur"})
    assert fresh(Payment, payment.id).status == states.REFUNDED
    assert fake_xendit.refunds[0]["amount"] == 7500


@pytest.mark.parametrize("amount, code", [(10100, "provider_channel_not_activated"), (10101, "provider_unavailable"),
                                          (10102, "provider_unavailable")])
def test_test_mode_magic_amounts(fake_xendit, amount, code):
    with pytest.raises(ProviderError) as raised:
        get_provider().create_qr("MAGIC-1", amount, utcnow() + timedelta(minutes=15))
    assert raised.value.code == code


def test_duplicate_reference_and_bad_key(app, fake_xendit):
    provider = get_provider()
    provider.create_qr("DUP-1", 5000, utcnow() + timedelta(minutes=15))
    with pytest.raises(ProviderError) as raised:
        provider.create_qr("DUP-1", 5000, utcnow() + timedelta(minutes=15))
    assert raised.value.code == "duplicate_order_id"
    use_gateway(app, xendit_secret_key="xnd_development_WRONGwrongWRONG")
    with pytest.raises(ProviderError) as raised:
        get_provider().create_qr("DUP-2", 5000, utcnow() + timedelta(minutes=15))
    assert raised.value.code == "provider_auth_failed" and "WRONG" not in raised.value.message


def test_create_is_never_retried_after_a_timeout(till, fake_xendit):
    fake_xendit.fail_next("create", "lost")
    with pytest.raises(service.PaymentError, match="Xendit tidak menjawab"):
        charges.create_for_sale(till.add("SKU0001").id)
    assert len(fake_xendit.calls("create")) == 1


def test_connection_test(fake_xendit):
    result = get_provider().test_connection()
    assert result.ok and "mode uji" in result.message and result.latency_ms is not None


def test_a_qr_id_is_one_percent_encoded_segment_of_every_xendit_url(fake_xendit):
    with pytest.raises(ProviderError):  # no such QR at the fake
        get_provider().fetch_status(SimpleNamespace(provider_trx_id="qr_a/../b?c", order_id="WEB-1", amount=1000))
    assert [call["target"] for call in fake_xendit.requests] == ["/qr_codes/qr_a%2F..%2Fb%3Fc/payments"]
