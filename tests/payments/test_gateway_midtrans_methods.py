"""Midtrans VA (bank_transfer, echannel for Mandiri) and payment links (Snap) against the loopback fake."""
import json
from datetime import timedelta

import pytest

from fixtures.midtrans_till import app_config, midtrans_active  # noqa: F401  (Midtrans is the active gateway)
from kasir.extensions import db
from kasir.payments import states, sync
from kasir.payments.models import Payment
from support.databases import fresh


def payment_of(body) -> Payment:
    return db.session.get(Payment, body["payment_id"])


@pytest.mark.parametrize("bank", ["bca", "bni", "bri", "cimb"])
def test_a_bank_va_is_charged_as_bank_transfer_and_answers_its_number(api, fake_midtrans, bank):
    response = api.create("WEB-VA-1", 25000, method="va", bank=bank)

    assert response.status_code == 201
    [call] = fake_midtrans.calls("charge")
    sent = json.loads(call["body"])
    assert sent["payment_type"] == "bank_transfer" and sent["bank_transfer"] == {"bank": bank}
    assert sent["transaction_details"] == {"order_id": "WEB-VA-1", "gross_amount": 25000}
    assert call["headers"]["Idempotency-Key"] == "charge-WEB-VA-1"
    body = response.json
    assert body["method"] == "va" and body["status"] == "PENDING"
    assert body["va"]["bank"] == bank and body["va"]["number"].startswith("8808")
    assert body["provider_trx_id"] == fake_midtrans.transactions["WEB-VA-1"]["transaction_id"]


def test_a_permata_va_takes_its_number_from_permata_va_number(api, fake_midtrans):
    va = api.create("WEB-VA-P", 25000, method="va", bank="permata").json["va"]
    assert va["bank"] == "permata" and len(va["number"]) == 11 and va["biller_code"] is None


def test_a_mandiri_va_is_an_echannel_bill_with_biller_code_and_bill_key(api, fake_midtrans):
    va = api.create("WEB-VA-M", 25000, method="va", bank="mandiri").json["va"]

    sent = json.loads(fake_midtrans.calls("charge")[0]["body"])
    assert sent["payment_type"] == "echannel" and sent["echannel"]["bill_info1"]
    assert va["bank"] == "mandiri" and va["biller_code"] == "70012" and va["number"].isdigit()


def test_a_settled_va_becomes_paid_through_the_status_call(api, fake_midtrans):
    body = api.create("WEB-VA-S", 25000, method="va", bank="bni").json
    fake_midtrans.settle("WEB-VA-S")

    sync.check_status(payment_of(body), source="manual")

    assert fresh(Payment, body["payment_id"]).status == states.PAID


def test_a_link_is_a_snap_transaction_and_answers_its_redirect_url(api, fake_midtrans):
    response = api.create("WEB-LINK-1", 30000, method="link")

    assert response.status_code == 201
    [call] = fake_midtrans.calls("snap")
    sent = json.loads(call["body"])
    assert sent["transaction_details"] == {"order_id": "WEB-LINK-1", "gross_amount": 30000}
    assert call["headers"]["Authorization"].startswith("Basic ")
    token = fake_midtrans.snap_orders["WEB-LINK-1"]["token"]
    assert response.json["payment_url"] == f"{fake_midtrans.url}/snap/v4/redirection/{token}"
    assert response.json["method"] == "link" and response.json["status"] == "PENDING"


def test_a_link_unknown_to_the_status_call_is_still_pending(api, fake_midtrans):
    body = api.create("WEB-LINK-2", 30000, method="link").json

    sync.check_status(payment_of(body), source="manual")

    assert fake_midtrans.calls("status") and fresh(Payment, body["payment_id"]).status == states.PENDING


def test_a_link_paid_after_the_customer_picked_a_method_becomes_paid(api, fake_midtrans):
    body = api.create("WEB-LINK-3", 30000, method="link").json
    fake_midtrans.pick("WEB-LINK-3", "bca")
    fake_midtrans.settle("WEB-LINK-3")

    sync.check_status(payment_of(body), source="manual")

    assert fresh(Payment, body["payment_id"]).status == states.PAID


def test_the_expiry_job_closes_a_link_midtrans_never_heard_of(api, fake_midtrans):
    body = api.create("WEB-LINK-4", 30000, method="link").json
    payment = payment_of(body)

    assert sync.expire_due(now=payment.expires_at + timedelta(seconds=1)) == 1

    assert fresh(Payment, body["payment_id"]).status == states.EXPIRED
