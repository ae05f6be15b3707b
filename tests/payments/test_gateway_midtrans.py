"""Midtrans Core API QRIS against a loopback fake that checks what Midtrans checks (contracts/midtrans.md)."""
import base64
import hashlib
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

from fixtures.midtrans_till import app_config, midtrans_active  # noqa: F401  (this module's till pays through Midtrans)
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import AuditLog, Sale
from kasir.payments import charges, refunds, service, states, sync
from kasir.payments.models import Payment, WebhookDelivery
from kasir.payments.providers import get_provider
from kasir.payments.providers.base import ProviderError
from kasir.webhooks import rejections
from support.databases import fresh
from support.gateways import MIDTRANS_KEY
from support.payments import use_gateway


def new_payment(till) -> Payment:
    sale = till.add("SKU0001", "SKU0006")
    return charges.create_for_sale(sale.id)


def notify(client, fake, order_id, **overrides):
    body = {**fake.notification(order_id), **overrides}
    return client.post("/webhooks/midtrans", data=json.dumps(body), content_type="application/json")


def test_charge_sends_what_midtrans_expects_and_shows_its_qr(till, fake_midtrans):
    payment = new_payment(till)

    [call] = fake_midtrans.calls("charge")
    body = json.loads(call["body"])
    assert call["headers"]["Authorization"] == "Basic " + base64.b64encode(f"{MIDTRANS_KEY}:".encode()).decode()
    assert call["headers"]["Accept"] == call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["Idempotency-Key"] == f"charge-{payment.order_id}"
    assert body["payment_type"] == "qris"
    assert body["transaction_details"] == {"order_id": payment.order_id, "gross_amount": 7500}
    assert body["custom_expiry"] == {"expiry_duration": 15, "unit": "minute"}
    transaction = fake_midtrans.transactions[payment.order_id]
    assert payment.status == states.PENDING
    assert payment.qr_string == transaction["qr_string"] and payment.provider == "midtrans"
    assert payment.provider_trx_id == transaction["transaction_id"]
    assert payment.expires_at <= utcnow() + timedelta(minutes=15)


def test_settlement_notification_is_verified_then_rechecked_then_applied(client, till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)

    response = notify(client, fake_midtrans, payment.order_id)

    assert response.status_code == 200 and response.json["result"] == "applied"
    assert len(fake_midtrans.calls("status")) == 1  # the notification is a hint; the status call decides
    paid = fresh(Payment, payment.id)
    assert paid.status == states.PAID and paid.paid_at is not None
    assert db.session.get(Sale, paid.sale_id).status == "PAID"
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.provider == "midtrans"))
    assert delivery.status == "OK" and delivery.payment_id == payment.id
    assert notify(client, fake_midtrans, payment.order_id).json == {"result": "duplicate"}


def test_a_notification_the_status_call_does_not_confirm_changes_nothing(client, till, fake_midtrans):
    payment = new_payment(till)
    # Correctly signed, claims settlement, but Midtrans itself still says pending.
    body = fake_midtrans.notification(payment.order_id)
    body.update(transaction_status="settlement", status_code="201")
    response = client.post("/webhooks/midtrans", json=body)
    assert response.status_code == 200 and response.json["result"] == "unchanged"
    assert fresh(Payment, payment.id).status == states.PENDING


@pytest.mark.parametrize("tamper", [
    {"signature_key": "0" * 128},
    {"gross_amount": "1.00"},  # the signature covers the amount
    {"signature_key": None},
])
def test_bad_notification_signature_is_401_and_nothing_is_applied(client, till, fake_midtrans, tamper):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    body = {key: value for key, value in {**fake_midtrans.notification(payment.order_id), **tamper}.items()
            if value is not None}

    response = client.post("/webhooks/midtrans", json=body)

    assert response.status_code == 401
    assert fake_midtrans.calls("status") == []
    assert fresh(Payment, payment.id).status == states.PENDING
    assert db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.provider == "midtrans")) is None
    [(key, counted)] = rejections.tally.take().items()  # counted, not stored (issue 21)
    assert key[1:] == ("midtrans", "127.0.0.1", rejections.REJECTED) and counted.count == 1


def test_notification_signed_with_another_key_is_rejected(client, till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    body = fake_midtrans.notification(payment.order_id, server_key="SB-Mid-server-someone-else")
    assert client.post("/webhooks/midtrans", json=body).status_code == 401
    assert fresh(Payment, payment.id).status == states.PENDING


def test_malformed_and_unknown_notifications(client, fake_midtrans, till):
    assert client.post("/webhooks/midtrans", data=b"not json", content_type="application/json").status_code == 400
    body = {"order_id": "SOMEONE-ELSE-1", "status_code": "200", "gross_amount": "5000.00",
            "transaction_status": "settlement", "transaction_id": "other-trx"}
    signed = f"SOMEONE-ELSE-1200{body['gross_amount']}{MIDTRANS_KEY}"
    body["signature_key"] = hashlib.sha512(signed.encode()).hexdigest()
    response = client.post("/webhooks/midtrans", json=body)
    assert response.status_code == 202  # verified but not ours yet: kept and retried by the job


def test_status_sync_alone_marks_the_payment_paid(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    outcome = sync.check_status(payment, source="manual")
    assert outcome.changed and fresh(Payment, payment.id).status == states.PAID


def test_status_call_retries_once_on_a_gateway_error(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.fail_next("status", "503")
    fake_midtrans.settle(payment.order_id)
    sync.check_status(payment, source="sync")
    assert len(fake_midtrans.calls("status")) == 2 and fresh(Payment, payment.id).status == states.PAID


def test_expiry_asks_midtrans_to_expire_and_treats_407_as_success(till, fake_midtrans):
    payment = new_payment(till)
    assert sync.expire_due(now=payment.expires_at + timedelta(seconds=1)) == 1
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "expire"
    assert len(fake_midtrans.calls("expire")) == 1
    assert fresh(Payment, payment.id).status == states.EXPIRED


def test_expiry_finds_a_settled_payment_paid(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    sync.expire_due(now=payment.expires_at + timedelta(seconds=1))
    assert fake_midtrans.calls("expire") == [] and fresh(Payment, payment.id).status == states.PAID


def test_cancel_cancels_at_midtrans(till, fake_midtrans):
    payment = new_payment(till)
    outcome = sync.cancel(payment, source="pos")
    assert outcome.payment.status == states.CANCELLED
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "cancel"
    assert fake_midtrans.calls("cancel")[0]["headers"]["Idempotency-Key"] == f"cancel-{payment.order_id}"


def test_cancel_of_a_settled_payment_makes_it_paid(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    assert sync.cancel(payment, source="pos").payment.status == states.PAID


def test_late_settlement_after_expiry_is_recorded_and_flagged(client, till, fake_midtrans):
    payment = new_payment(till)
    service.apply_status(payment, states.EXPIRED, source="expiry")
    fake_midtrans.settle(payment.order_id)
    assert notify(client, fake_midtrans, payment.order_id).status_code == 200
    late = fresh(Payment, payment.id)
    assert late.status == states.PAID and late.late and late.review_reason


def paid_payment(till, fake_midtrans) -> Payment:
    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    sync.check_status(payment, source="manual")
    return fresh(Payment, payment.id)


def test_full_refund_from_admin(client, auth, till, fake_midtrans):
    payment = paid_payment(till, fake_midtrans)
    auth.login_admin()
    page = client.get(f"/admin/payments/{payment.id}").get_data(as_text=True)
    assert "data-refund-form" in page

    response = client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "7.500", "reason": "Salah pesan"})

    assert response.status_code == 302
    [call] = fake_midtrans.calls("refund")
    assert call["path"] == f"/v2/{payment.order_id}/refund/online/direct"
    sent = json.loads(call["body"])
    assert sent["amount"] == 7500 and sent["reason"] == "Salah pesan" and sent["refund_key"].startswith("RF-")
    refunded = fresh(Payment, payment.id)
    assert refunded.status == states.REFUNDED and [item["amount"] for item in refunded.meta["refunds"]] == [7500]
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "Refund")).outcome == "ok"
    summary = client.get("/admin").get_data(as_text=True)
    assert 'data-refunds="7500"' in summary


def test_partial_refund_keeps_the_amount(client, auth, till, fake_midtrans):
    payment = paid_payment(till, fake_midtrans)
    auth.login_admin()
    client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "2500", "reason": "Satu item habis"})
    refunded = fresh(Payment, payment.id)
    assert refunded.status == states.PAID and refunds.refunded_amount(refunded) == 2500
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "partial_refund"
    # Midtrans reports the transaction as partial_refund from now on: still the shop's money, still PAID.
    assert sync.check_status(refunded, source="manual").payment.status == states.PAID

    client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "5000", "reason": "Sisanya juga"})
    refunded = fresh(Payment, payment.id)
    assert refunded.status == states.REFUNDED and refunds.refunded_amount(refunded) == 7500


def test_refund_refused_by_midtrans_is_shown_and_audited(client, auth, till, fake_midtrans):
    payment = paid_payment(till, fake_midtrans)
    fake_midtrans.transactions[payment.order_id]["transaction_status"] = "pending"  # e.g. not refundable yet
    auth.login_admin()
    response = client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "7500", "reason": "Batal"})
    assert response.status_code == 422 and "Refund ditolak Midtrans (kode 412)" in response.get_data(as_text=True)
    assert fresh(Payment, payment.id).status == states.PAID
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "Refund")).outcome == "refused"


def test_refund_rejects_more_than_was_paid(client, auth, till, fake_midtrans):
    payment = paid_payment(till, fake_midtrans)
    auth.login_admin()
    response = client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "9000", "reason": "x"})
    assert response.status_code == 422 and fake_midtrans.calls("refund") == []


def failed_charge(till) -> tuple[str, Payment]:
    sale = till.add("SKU0001")
    with pytest.raises(service.PaymentError) as raised:
        charges.create_for_sale(sale.id)
    payment = db.session.scalar(db.select(Payment).where(Payment.sale_id == sale.id))
    return str(raised.value), fresh(Payment, payment.id)


def test_wrong_server_key_is_a_clear_message_and_a_failed_payment(app, till, fake_midtrans):
    use_gateway(app, midtrans_server_key="SB-Mid-server-WRONGwrongWRONG123")
    message, payment = failed_charge(till)
    assert "Server key Midtrans ditolak (401)" in message
    assert payment.status == states.FAILED and "WRONG" not in (payment.error or "")
    with pytest.raises(ProviderError) as raised:
        get_provider().create_qr("X-1", 1000, utcnow() + timedelta(minutes=5))
    assert raised.value.code == "provider_auth_failed"


def test_order_id_taken_at_the_gateway_moves_on_to_the_next_attempt(till, fake_midtrans):
    # After a reinstall or a restore our order ids start again, but Midtrans remembers them forever.
    fake_midtrans.fail_next("charge", "body:406")
    payment = new_payment(till)
    first = db.session.scalar(db.select(Payment).where(Payment.sale_id == payment.sale_id, Payment.attempt == 1))
    assert first.status == states.FAILED and "sudah pernah dipakai di Midtrans" in first.error
    assert payment.status == states.PENDING and payment.attempt == 2 and payment.order_id.endswith("-2")


def test_duplicate_order_id_is_a_clear_provider_error(fake_midtrans):
    fake_midtrans.transactions["POS-OLD-1"] = {"transaction_id": "old", "order_id": "POS-OLD-1",
                                                "gross_amount": "99000.00", "transaction_status": "settlement"}
    with pytest.raises(ProviderError) as raised:
        get_provider().create_qr("POS-OLD-1", 1000, utcnow() + timedelta(minutes=5))
    assert raised.value.code == "duplicate_order_id"


def test_validation_error_in_a_200_body_is_still_an_error(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "body:402")
    message, payment = failed_charge(till)
    assert "kode 402" in message and payment.status == states.FAILED


def test_gateway_5xx_on_charge_is_not_retried(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "503")
    message, payment = failed_charge(till)
    assert "Midtrans sedang bermasalah (kode 503)" in message
    assert len(fake_midtrans.calls("charge")) == 1 and payment.status == states.FAILED


def test_charge_timeout_checks_status_before_trying_again(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "timeout")  # hangs before creating anything
    payment = new_payment(till)
    endpoints = [call["endpoint"] for call in fake_midtrans.requests]
    assert endpoints[:3] == ["charge", "status", "charge"]
    charges = fake_midtrans.calls("charge")
    assert charges[0]["headers"]["Idempotency-Key"] == charges[1]["headers"]["Idempotency-Key"]
    assert payment.status == states.PENDING


def test_charge_whose_answer_was_lost_is_taken_over_not_repeated(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "lost")  # created at the gateway, answer too late
    payment = new_payment(till)
    assert len(fake_midtrans.calls("charge")) == 1 and len(fake_midtrans.calls("status")) == 1
    assert payment.status == states.PENDING
    assert payment.provider_trx_id == fake_midtrans.transactions[payment.order_id]["transaction_id"]


def test_timeout_everywhere_fails_the_payment_with_a_plain_reason(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "timeout")
    fake_midtrans.fail_next("status", "timeout", "timeout")
    message, payment = failed_charge(till)
    assert message == "Midtrans tidak menjawab dalam 0.5 detik." and payment.status == states.FAILED


def test_slow_but_timely_answers_work(till, fake_midtrans):
    fake_midtrans.fail_next("charge", "slow")
    assert new_payment(till).status == states.PENDING


def test_connection_test_reports_latency_or_the_reason(app, fake_midtrans):
    result = get_provider().test_connection()
    assert result.ok and result.latency_ms is not None and "Sandbox" in result.message
    use_gateway(app, midtrans_server_key="SB-Mid-server-WRONGwrongWRONG123")
    result = get_provider().test_connection()
    assert not result.ok and "401" in result.message


def test_connection_test_when_midtrans_is_unreachable(app, fake_midtrans):
    fake_midtrans.stop()
    result = get_provider().test_connection()
    assert not result.ok and "tidak dapat dihubungi" in result.message


def test_notification_kept_when_the_status_call_fails_and_applied_by_the_retry_job(client, till, fake_midtrans):
    from kasir.webhooks.service import reprocess_unmatched

    payment = new_payment(till)
    fake_midtrans.settle(payment.order_id)
    fake_midtrans.fail_next("status", "503", "503")
    response = notify(client, fake_midtrans, payment.order_id)
    assert response.status_code == 503  # Midtrans retries a 503; our job does too
    assert fresh(Payment, payment.id).status == states.PENDING
    assert reprocess_unmatched() == 1
    assert fresh(Payment, payment.id).status == states.PAID


def test_a_cancel_made_while_midtrans_was_down_is_cancelled_there_once_it_answers(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.go_down("reset")
    assert sync.cancel(payment, source="pos").payment.status == states.CANCELLED  # the till did not wait
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "pending"  # still payable there
    assert sync.confirm_unreachable_cancels(now=utcnow() + timedelta(minutes=1)) == 0  # still down: later
    fake_midtrans.recover()
    assert sync.confirm_unreachable_cancels(now=utcnow() + timedelta(minutes=2)) == 1
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "cancel"
    assert fresh(Payment, payment.id).status == states.CANCELLED
    assert sync.confirm_unreachable_cancels(now=utcnow() + timedelta(hours=1)) == 0  # confirmed: never asked again


def test_a_qr_paid_after_a_cancel_midtrans_never_heard_of_becomes_a_late_payment(till, fake_midtrans):
    payment = new_payment(till)
    fake_midtrans.go_down("503")
    sync.cancel(payment, source="pos")
    fake_midtrans.settle(payment.order_id)  # the customer paid the QR still on their phone
    fake_midtrans.recover()
    assert sync.confirm_unreachable_cancels(now=utcnow() + timedelta(minutes=1)) == 1
    paid = fresh(Payment, payment.id)
    assert paid.status == states.PAID and paid.late and "terlambat" in paid.review_reason


def test_cancel_does_not_wait_for_a_gateway_known_to_be_down(till, fake_midtrans):
    from kasir.payments import health

    payment = new_payment(till)
    fake_midtrans.go_down("hang")
    assert not health.refresh().ok  # the job's probe found it down
    calls = len(fake_midtrans.requests)
    outcome = sync.cancel(payment, source="pos")
    assert outcome.payment.status == states.CANCELLED and len(fake_midtrans.requests) == calls
    assert outcome.payment.error == "provider unreachable: Midtrans tidak menjawab dalam 0.5 detik."
    fake_midtrans.recover()
    assert sync.confirm_unreachable_cancels(now=utcnow() + timedelta(minutes=1)) == 1  # stopped there later
    assert fake_midtrans.transactions[payment.order_id]["transaction_status"] == "cancel"


def test_an_order_id_is_one_percent_encoded_segment_of_every_midtrans_url(fake_midtrans):
    payment = SimpleNamespace(order_id="A/B?c#d%", amount=1000)
    provider = get_provider()
    provider.fetch_status(payment)
    provider.cancel(payment)
    assert [call["target"] for call in fake_midtrans.requests] == ["/v2/A%2FB%3Fc%23d%25/status",
                                                                   "/v2/A%2FB%3Fc%23d%25/cancel"]


@pytest.mark.parametrize("order_id", [".", ".."])
def test_a_dot_only_order_id_never_reaches_a_midtrans_url(fake_midtrans, order_id):
    with pytest.raises(ProviderError) as raised:
        get_provider().fetch_status(SimpleNamespace(order_id=order_id, amount=1000))
    assert raised.value.code == "invalid_reference" and not fake_midtrans.requests
