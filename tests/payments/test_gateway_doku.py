"""DOKU over BI SNAP against a loopback fake that checks every header and signature (contracts/snap-bi.md)."""
import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from pytest_httpserver import HTTPServer

from fixtures.snap import snap_tokens_forgotten  # noqa: F401  (each test starts without a cached token)
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.payments import charges, states
from kasir.payments.models import Payment, WebhookDelivery
from kasir.payments.providers.base import ProviderAuthError
from kasir.payments.providers.doku import DokuProvider
from kasir.payments.providers.snap import snap_timestamp
from support.databases import fresh
from support.payments import use_gateway
from support.snap_fake import SnapFake, hmac_of, rsa_pair, rsa_signature

CLIENT_ID, SECRET = "BRN-0201-1700000000000", "SK-doku-test-secret-0123456789"


@pytest.fixture(scope="module")
def merchant_keys():
    return rsa_pair()


@pytest.fixture
def fake(httpserver, merchant_keys):
    return SnapFake(httpserver, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=merchant_keys[1],
                    base_path="", token_path="/authorization/v1/access-token/b2b", qr_prefix="/snap-adapter/b2b",
                    channel_id="H2H", cancel_path="/v1.0/qr/qr-mpm-cancel", expires_in="900")


@pytest.fixture
def doku(fake, merchant_keys):
    return DokuProvider(client_id=CLIENT_ID, client_secret=SECRET, private_key_pem=merchant_keys[0],
                        base_url=fake.url, merchant_id="MALL01", terminal_id="TERM01", channel_id="H2H",
                        timeouts=(2, 5))


def created(doku, reference="ORD-1", amount=15000):
    charge = doku.create_qr(reference, amount, utcnow() + timedelta(minutes=15))
    return charge, SimpleNamespace(order_id=reference, provider_trx_id=charge.provider_trx_id)


def test_token_is_requested_with_an_rsa_signature_and_the_documented_body(doku, fake):
    doku.create_qr("ORD-1", 15000, utcnow() + timedelta(minutes=15))
    [token] = fake.of("token")
    assert json.loads(token["body"]) == {"grantType": "client_credentials"}
    assert token["headers"]["X-Client-Key"] == CLIENT_ID
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", token["headers"]["X-Timestamp"])
    assert fake.rejections == []


def test_generate_sends_minified_signed_body_with_string_amount_and_validity(doku, fake):
    charge, _ = created(doku)
    [call] = fake.of("qr-mpm-generate")
    body = json.loads(call["body"])
    assert call["body"] == json.dumps(body, separators=(",", ":")).encode()
    assert body["amount"] == {"value": "15000.00", "currency": "IDR"}
    assert body["partnerReferenceNo"] == "ORD-1" and body["merchantId"] == "MALL01" and body["terminalId"] == "TERM01"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", body["validityPeriod"])
    assert call["headers"]["X-External-Id"].isdigit() and call["headers"]["Channel-Id"] == "H2H"
    assert charge.qr_string.startswith("000201") and charge.provider_trx_id == fake.transactions["ORD-1"][
        "referenceNo"]
    assert fake.rejections == []


def test_the_token_is_cached_between_calls(doku, fake):
    created(doku, "ORD-1")
    created(doku, "ORD-2")
    assert len(fake.of("token")) == 1


def test_each_request_gets_its_own_numeric_external_id(doku, fake):
    created(doku, "ORD-1")
    created(doku, "ORD-2")
    ids = [call["headers"]["X-External-Id"] for call in fake.of("qr-mpm-generate")]
    assert len(set(ids)) == 2 and all(value.isdigit() for value in ids)


def test_an_expired_token_is_fetched_again_once_and_the_retry_reuses_the_external_id(doku, fake):
    created(doku, "ORD-1")
    fake.expire_tokens()
    created(doku, "ORD-2")
    assert len(fake.of("token")) == 2
    first, retry = fake.of("qr-mpm-generate")[1:]
    assert first["headers"]["X-External-Id"] == retry["headers"]["X-External-Id"]
    assert first["body"] == retry["body"]
    assert fake.rejections == ["4014701"]


@pytest.fixture
def threaded_fake(merchant_keys):
    """The fake on a threaded server: a late answer to one call does not hold up the next."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield SnapFake(server, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=merchant_keys[1], base_path="",
                   token_path="/authorization/v1/access-token/b2b", qr_prefix="/snap-adapter/b2b", channel_id="H2H")
    server.clear()
    server.stop()


def test_a_query_without_answer_is_sent_once_more_with_the_same_external_id(threaded_fake, merchant_keys):
    fake = threaded_fake
    doku = DokuProvider(client_id=CLIENT_ID, client_secret=SECRET, private_key_pem=merchant_keys[0],
                        base_url=fake.url, merchant_id="MALL01", terminal_id="TERM01", channel_id="H2H",
                        timeouts=(2, 0.3))
    _, payment = created(doku)
    fake.slow_next.add("qr-mpm-query")
    assert doku.fetch_status(payment).status == states.PENDING
    first, retry = fake.of("qr-mpm-query")
    assert first["headers"]["X-External-Id"] == retry["headers"]["X-External-Id"] and first["body"] == retry["body"]


def test_a_token_refused_twice_is_an_auth_error_not_a_loop(doku, fake):
    created(doku, "ORD-1")
    fake.honour_tokens = False
    fake.expire_tokens()
    with pytest.raises(ProviderAuthError):
        created(doku, "ORD-2")
    assert len(fake.of("token")) == 2


def test_query_maps_latest_transaction_status(doku, fake):
    _, payment = created(doku)
    assert doku.fetch_status(payment).status == states.PENDING
    fake.pay("ORD-1")
    status = doku.fetch_status(payment)
    assert status.status == states.PAID and status.amount == 15000 and status.paid_at is not None
    [_, query] = fake.of("qr-mpm-query")
    body = json.loads(query["body"])
    assert body["serviceCode"] == "47" and body["originalReferenceNo"] == payment.provider_trx_id
    assert fake.rejections == []


def test_refund_sends_the_approval_code_from_the_query(doku, fake):
    _, payment = created(doku)
    fake.pay("ORD-1")
    result = doku.refund(payment, 15000, "Barang rusak", "RF-ORD-1")
    assert result.status == states.REFUNDED and result.amount == 15000
    refund = fake.transactions["ORD-1"]["refund"]
    assert refund["refundAmount"] == {"value": "15000.00", "currency": "IDR"}
    assert refund["partnerRefundNo"] == "RF-ORD-1" and refund["additionalInfo"] == {"approvalCode": "APV123"}
    assert fake.rejections == []


def test_cancel_uses_the_cancel_path(doku, fake):
    _, payment = created(doku)
    assert doku.cancel(payment).status == states.CANCELLED
    assert len(fake.of("cancel")) == 1 and fake.rejections == []


def test_test_connection_fetches_a_token(doku, fake):
    result = doku.test_connection()
    assert result.ok and "token diterima" in result.message
    assert len(fake.of("token")) == 1


def test_a_wrong_private_key_is_refused_at_the_token(fake):
    other = rsa_pair()[0]
    doku = DokuProvider(client_id=CLIENT_ID, client_secret=SECRET, private_key_pem=other, base_url=fake.url,
                        merchant_id="MALL01", terminal_id="TERM01", channel_id="H2H")
    result = doku.test_connection()
    assert not result.ok and fake.rejections == ["token X-SIGNATURE"]


# -- notifications through the app: DOKU asks us for a token, then posts with it and an HMAC signature ------
@pytest.fixture(scope="module")
def doku_keys():
    return rsa_pair()  # DOKU's own pair: its public key verifies its calls to us


@pytest.fixture
def app_config(app_config, fake, merchant_keys, doku_keys):
    return {**app_config, "DOKU_CLIENT_ID": CLIENT_ID, "DOKU_SECRET_KEY": SECRET, "DOKU_PRIVATE_KEY": merchant_keys[0],
            "DOKU_PUBLIC_KEY": doku_keys[1], "DOKU_BASE_URL": fake.url, "DOKU_MERCHANT_ID": "MALL01",
            "DOKU_TERMINAL_ID": "TERM01", "GATEWAY_READ_TIMEOUT": 2}


@pytest.fixture
def doku_active(app):
    use_gateway(app, provider="doku")
    with app.app_context():
        yield


def token_from_us(client, key) -> object:
    timestamp = snap_timestamp()
    return client.post("/webhooks/doku/access-token/b2b", data=b'{"grantType":"client_credentials"}',
                       content_type="application/json",
                       headers={"X-CLIENT-KEY": CLIENT_ID, "X-TIMESTAMP": timestamp,
                                "X-SIGNATURE": rsa_signature(key, f"{CLIENT_ID}|{timestamp}")})


def notify(client, token: str, payment, *, secret=SECRET):
    body = json.dumps({"originalPartnerReferenceNo": payment.order_id, "originalReferenceNo": payment.provider_trx_id,
                       "latestTransactionStatus": "00", "amount": {"value": "7500.00", "currency": "IDR"}}).encode()
    timestamp = snap_timestamp()
    return client.post("/webhooks/doku", data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}", "X-TIMESTAMP": timestamp, "X-PARTNER-ID": CLIENT_ID,
                                "X-EXTERNAL-ID": "1234567890", "CHANNEL-ID": "H2H",
                                "X-SIGNATURE": hmac_of(secret, "POST", "/webhooks/doku", token, body, timestamp)})


def test_doku_gets_a_token_from_us_for_a_good_rsa_signature(doku_active, client, doku_keys):
    response = token_from_us(client, doku_keys[2])
    assert response.status_code == 200 and response.json["responseCode"] == "2007300"
    assert response.json["accessToken"] and response.json["tokenType"] == "Bearer"


def test_doku_token_request_signed_with_another_key_is_refused(doku_active, client, merchant_keys):
    response = token_from_us(client, merchant_keys[2])
    assert response.status_code == 401 and "accessToken" not in response.json


def test_a_doku_notification_is_verified_then_queried_then_applied(doku_active, client, till, fake, doku_keys):
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    fake.pay(payment.order_id)
    token = token_from_us(client, doku_keys[2]).json["accessToken"]
    response = notify(client, token, payment)
    assert response.status_code == 200 and response.json["responseCode"] == "2005200"
    assert fresh(Payment, payment.id).status == states.PAID
    assert db.session.scalar(db.select(db.func.count()).select_from(WebhookDelivery)) == 1


def test_a_doku_notification_with_a_bad_signature_is_refused_and_nothing_applied(doku_active, client, till, fake,
                                                                                  doku_keys):
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    fake.pay(payment.order_id)
    token = token_from_us(client, doku_keys[2]).json["accessToken"]
    assert notify(client, token, payment, secret="not-the-secret").status_code == 401
    assert notify(client, "1.forged", payment).status_code == 401
    assert fresh(Payment, payment.id).status == states.PENDING and fake.of("qr-mpm-query") == []
