"""NICEPAY over BI SNAP: its wire settings, and its notifications through the common webhook intake."""
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from fixtures.snap import snap_tokens_forgotten  # noqa: F401  (each test starts without a cached token)
from kasir.clock import utcnow
from kasir.payments import charges, states
from kasir.payments.models import Payment
from kasir.payments.providers.nicepay import NicepayProvider
from kasir.payments.providers.snap import snap_timestamp
from support.databases import fresh
from support.payments import use_gateway
from support.snap_fake import SnapFake, rsa_pair, rsa_signature

CLIENT_ID, SECRET = "IONPAYTEST", "nicepay-client-secret-0123456789"


@pytest.fixture(scope="module")
def snap_keys():
    """Throwaway RSA pairs: ours (the gateway checks our token requests) and NICEPAY's notification key."""
    return {"merchant": rsa_pair(), "gateway": rsa_pair()}


@pytest.fixture
def fake(httpserver, snap_keys):
    return SnapFake(httpserver, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=snap_keys["merchant"][1],
                    base_path="/nicepay", token_path="/v1.0/access-token/b2b", qr_prefix="/api",
                    channel_id=CLIENT_ID + "01", signed_prefix="/nicepay", token_extra={"additionalInfo": {}},
                    expires_in=900)


@pytest.fixture
def app_config(app_config, fake, snap_keys):
    return {**app_config, "NICEPAY_CLIENT_ID": CLIENT_ID, "NICEPAY_CLIENT_SECRET": SECRET,
            "NICEPAY_PRIVATE_KEY": snap_keys["merchant"][0], "NICEPAY_PUBLIC_KEY": snap_keys["gateway"][1],
            "NICEPAY_BASE_URL": fake.url, "NICEPAY_STORE_ID": "STORE01", "GATEWAY_READ_TIMEOUT": 2}


@pytest.fixture
def nicepay_active(app):
    use_gateway(app, provider="nicepay")
    with app.app_context():
        yield


def provider(fake, snap_keys) -> NicepayProvider:
    return NicepayProvider(client_id=CLIENT_ID, client_secret=SECRET, private_key_pem=snap_keys["merchant"][0],
                           base_url=fake.url, merchant_id=CLIENT_ID, terminal_id="STORE01")


def test_nicepay_signs_the_path_without_its_base_and_sends_its_channel_and_store(fake, snap_keys):
    charge = provider(fake, snap_keys).create_qr("ORD-7", 15000, utcnow() + timedelta(minutes=10))
    [token] = fake.of("token")
    assert json.loads(token["body"]) == {"grantType": "client_credentials", "additionalInfo": {}}
    [call] = fake.of("qr-mpm-generate")
    body = json.loads(call["body"])
    assert call["headers"]["Channel-Id"] == "IONPAYTEST01" and body["storeId"] == "STORE01"
    assert body["amount"] == {"value": "15000.00", "currency": "IDR"} and "validityPeriod" in body
    assert charge.qr_string.startswith("000201") and fake.rejections == []


def test_nicepay_cancel_of_an_unpaid_qr_asks_the_status_and_cancels_here(fake, snap_keys):
    nicepay = provider(fake, snap_keys)
    charge = nicepay.create_qr("ORD-7", 15000, utcnow() + timedelta(minutes=10))
    payment = SimpleNamespace(order_id="ORD-7", provider_trx_id=charge.provider_trx_id)
    assert nicepay.cancel(payment).status == states.CANCELLED
    assert len(fake.of("qr-mpm-query")) == 1


def test_nicepay_expire_of_an_unpaid_qr_reports_it_expired(fake, snap_keys):
    nicepay = provider(fake, snap_keys)
    charge = nicepay.create_qr("ORD-7", 15000, utcnow() + timedelta(minutes=10))
    payment = SimpleNamespace(order_id="ORD-7", provider_trx_id=charge.provider_trx_id)
    assert nicepay.expire(payment).status == states.EXPIRED


def test_nicepay_cancel_of_a_paid_qr_reports_it_paid(fake, snap_keys):
    nicepay = provider(fake, snap_keys)
    charge = nicepay.create_qr("ORD-7", 15000, utcnow() + timedelta(minutes=10))
    fake.pay("ORD-7")
    payment = SimpleNamespace(order_id="ORD-7", provider_trx_id=charge.provider_trx_id)
    assert nicepay.cancel(payment).status == states.PAID


def notification(payment: Payment, key, *, client_id=CLIENT_ID) -> tuple[dict, bytes]:
    timestamp = snap_timestamp()
    headers = {"X-TIMESTAMP": timestamp, "X-CLIENT-KEY": client_id,
               "X-SIGNATURE": rsa_signature(key, f"{client_id}|{timestamp}"), "Content-Type": "application/json"}
    body = {"originalReferenceNo": payment.provider_trx_id, "originalPartnerReferenceNo": payment.order_id,
            "latestTransactionStatus": "00", "amount": {"value": "7500.00", "currency": "IDR"}}
    return headers, json.dumps(body).encode()


@pytest.mark.parametrize("path", ["/webhooks/nicepay", "/api/v1.0/qr/qr-mpm-notify"])
def test_a_signed_notification_is_confirmed_by_the_query_and_applied(nicepay_active, client, till, fake, snap_keys,
                                                                    path):
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    fake.pay(payment.order_id)
    headers, body = notification(payment, snap_keys["gateway"][2])
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 200 and response.json["responseCode"] == "2005200"
    assert fresh(Payment, payment.id).status == states.PAID
    assert len(fake.of("qr-mpm-query")) == 1 and fake.rejections == []


def test_a_notification_whose_status_the_query_does_not_confirm_changes_nothing(nicepay_active, client, till, fake,
                                                                                 snap_keys):
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    headers, body = notification(payment, snap_keys["gateway"][2])  # says "00"; the gateway says pending
    assert client.post("/webhooks/nicepay", data=body, headers=headers).status_code == 200
    assert fresh(Payment, payment.id).status == states.PENDING


def test_a_notification_signed_with_another_key_is_refused_and_nothing_applied(nicepay_active, client, till, fake,
                                                                               snap_keys):
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    fake.pay(payment.order_id)
    headers, body = notification(payment, snap_keys["merchant"][2])
    response = client.post("/webhooks/nicepay", data=body, headers=headers)
    assert response.status_code == 401
    assert fresh(Payment, payment.id).status == states.PENDING and fake.of("qr-mpm-query") == []
