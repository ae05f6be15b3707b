"""BI SNAP signatures (contracts/snap-bi.md): the HMAC covers the exact bytes sent, never a re-serialisation."""
import json

import pytest
import requests

from fixtures.snap import snap_tokens_forgotten  # noqa: F401  (each test starts without a cached token)
from kasir.payments.providers.snap import hmac_signature, minified, new_external_id, snap_amount, snap_timestamp
from support.snap_fake import SnapFake, rsa_pair

CLIENT_ID, SECRET = "BRN-0201-1700000000000", "SK-doku-test-secret-0123456789"


@pytest.fixture
def fake(httpserver):
    fake = SnapFake(httpserver, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=rsa_pair()[1], base_path="",
                    token_path="/authorization/v1/access-token/b2b", qr_prefix="/snap-adapter/b2b", channel_id="H2H")
    fake.tokens.add("tok")
    return fake


def post(fake, sent: bytes, signed: bytes):
    path = "/snap-adapter/b2b/v1.0/qr/qr-mpm-generate"
    timestamp = snap_timestamp()
    headers = {"Authorization": "Bearer tok", "X-TIMESTAMP": timestamp, "X-PARTNER-ID": CLIENT_ID,
               "X-EXTERNAL-ID": new_external_id(), "CHANNEL-ID": "H2H", "Content-Type": "application/json",
               "X-SIGNATURE": hmac_signature(SECRET, "POST", path, "tok", signed, timestamp)}
    return requests.post(fake.url + path, data=sent, headers=headers, timeout=5)


BODY = {"partnerReferenceNo": "ORD-9", "amount": snap_amount(15000), "merchantId": "M",
        "validityPeriod": "2026-12-06T08:30:00+07:00", "additionalInfo": {}}


def test_a_signature_over_the_bytes_sent_is_accepted(fake):
    payload = minified(BODY)
    assert post(fake, payload, payload).json()["responseCode"] == "2004700"


def test_a_signature_over_re_serialised_json_is_rejected(fake):
    response = post(fake, minified(BODY), json.dumps(BODY).encode())  # same data, other bytes
    assert response.status_code == 401 and response.json()["responseCode"] == "4014700"
    assert fake.transactions == {}


def test_amounts_are_strings_with_two_decimals():
    assert snap_amount(15000) == {"value": "15000.00", "currency": "IDR"}


def test_external_ids_are_numeric_and_distinct():
    ids = {new_external_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(value.isdigit() for value in ids)
