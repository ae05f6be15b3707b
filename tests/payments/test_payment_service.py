"""Payments core with the mock provider: QR creation, convergence, cancel, expiry, sync, races."""
import threading
from datetime import timedelta

import pytest

from kasir import qris, tenders
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import Sale
from kasir.payments import charges, service, states, sync
from kasir.payments.models import MockLedgerEntry, Payment, PaymentLog
from kasir.payments.providers import get_provider
from support.payments import gateway_pays


def reload(payment: Payment) -> Payment:
    db.session.commit()
    return db.session.get(Payment, payment.id)


def test_qr_is_a_valid_dynamic_qris_for_the_exact_total(pending_payment):
    parsed = qris.parse(pending_payment.qr_string)
    assert parsed.is_dynamic and parsed.amount == 7500 == pending_payment.amount
    assert pending_payment.status == states.PENDING
    assert pending_payment.order_id.startswith("POS-1-") and pending_payment.order_id.endswith("-0001-1")


def test_qr_lives_for_the_configured_minutes(app, pending_payment):
    remaining = pending_payment.expires_at - utcnow()
    minutes = app.config["EXPIRE_MINUTES"]
    assert timedelta(minutes=minutes - 1) < remaining <= timedelta(minutes=minutes)


def test_paid_status_closes_the_sale_as_qris(pending_payment):
    gateway_pays(pending_payment)
    sync.check_status(pending_payment, source="manual")
    payment = reload(pending_payment)
    sale = db.session.get(Sale, payment.sale_id)
    assert (payment.status, sale.status, sale.method) == (states.PAID, "PAID", "QRIS")
    assert payment.provider_ref_no


def test_applying_paid_twice_is_a_no_op(pending_payment):
    first = service.apply_status(pending_payment, states.PAID, source="webhook", amount=7500)
    second = service.apply_status(pending_payment, states.PAID, source="sync", amount=7500)
    assert first.changed and not second.changed
    assert db.session.scalar(db.select(db.func.count(PaymentLog.id)).where(
        PaymentLog.payment_id == pending_payment.id, PaymentLog.to_status == states.PAID)) == 1


def test_cancel_asks_the_provider_and_turns_a_paid_qr_into_paid(pending_payment):
    gateway_pays(pending_payment)
    outcome = sync.cancel(pending_payment, source="pos")
    assert outcome.payment.status == states.PAID


def test_cancel_of_an_unpaid_qr_cancels_it_at_the_provider_too(pending_payment):
    outcome = sync.cancel(pending_payment, source="pos")
    assert outcome.payment.status == states.CANCELLED
    assert db.session.get(MockLedgerEntry, pending_payment.provider_trx_id).status == states.CANCELLED


def test_payment_arriving_after_cancel_is_kept_as_late_and_flagged(pending_payment):
    sync.cancel(pending_payment, source="pos")
    outcome = service.apply_status(pending_payment, states.PAID, source="webhook", amount=7500)
    assert outcome.payment.late and outcome.payment.review_reason


def test_second_payment_for_a_paid_sale_is_flagged_as_double(till, pending_payment):
    sale_id = pending_payment.sale_id
    sync.cancel(pending_payment, source="pos")
    tenders.pay_cash(sale_id, "10000")
    outcome = service.apply_status(pending_payment, states.PAID, source="webhook", amount=7500)
    assert outcome.payment.status == states.PAID
    assert "ganda" in outcome.payment.review_reason
    assert db.session.get(Sale, sale_id).method == "CASH"


def test_regenerate_makes_a_new_payment_for_the_same_sale(pending_payment):
    fresh = charges.regenerate(pending_payment)
    assert fresh.id != pending_payment.id and fresh.sale_id == pending_payment.sale_id
    assert fresh.order_id.endswith("-2") and fresh.attempt == 2
    assert reload(pending_payment).status == states.CANCELLED


def test_expire_due_expires_overdue_unpaid_payments(pending_payment):
    assert sync.expire_due(now=utcnow() + timedelta(minutes=16)) == 1
    assert reload(pending_payment).status == states.EXPIRED


def test_expire_due_turns_an_overdue_but_paid_payment_into_paid(pending_payment):
    gateway_pays(pending_payment)
    sync.expire_due(now=utcnow() + timedelta(minutes=16))
    assert reload(pending_payment).status == states.PAID


def test_sync_applies_what_the_provider_reports_and_backs_off(pending_payment):
    gateway_pays(pending_payment)
    assert sync.sync_pending(now=utcnow() + timedelta(seconds=5)) == 1
    assert reload(pending_payment).status == states.PAID


def test_sync_waits_longer_for_old_payments(pending_payment):
    later = utcnow() + timedelta(minutes=5)
    sync.sync_pending(now=later)
    assert reload(pending_payment).next_sync_at - later == sync.SYNC_SLOW


def test_qris_over_the_maximum_amount_is_refused(app, till):
    app.config["QRIS_MAX_AMOUNT"] = 5000
    sale = till.add("SKU0001", "SKU0006")
    with pytest.raises(service.PaymentError, match=r"melebihi batas QRIS \(Rp 5\.000\)"):
        charges.create_for_sale(sale.id)


def test_webhook_sync_and_manual_check_racing_make_one_paid_transition(app, pending_payment):
    gateway_pays(pending_payment)
    payment_id = pending_payment.id
    barrier = threading.Barrier(6)
    errors = []

    def converge(path):
        with app.app_context():
            payment = db.session.get(Payment, payment_id)
            barrier.wait()
            try:
                if path == "webhook":
                    service.apply_status(payment, states.PAID, source="webhook", amount=7500)
                else:
                    sync.check_status(payment, source=path)
            except Exception as exc:  # noqa: BLE001 - the assertion below reports it
                errors.append(exc)

    threads = [threading.Thread(target=converge, args=(path,)) for path in ["webhook", "sync", "manual"] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.commit()
    paid_logs = db.session.scalar(db.select(db.func.count(PaymentLog.id)).where(
        PaymentLog.payment_id == payment_id, PaymentLog.to_status == states.PAID))
    assert paid_logs == 1
    sale = db.session.get(Sale, pending_payment.sale_id)
    assert sale.status == "PAID" and sale.number == 1


def test_the_mock_gateway_keeps_one_transaction_per_reference(app):
    with app.app_context():
        expires_at = utcnow() + timedelta(minutes=15)
        first = get_provider("mock").create_qr("WEB-7", 5000, expires_at)
        again = get_provider("mock").create_qr("WEB-7", 5000, expires_at)
        assert (again.provider_trx_id, again.qr_string) == (first.provider_trx_id, first.qr_string)
        assert db.session.scalar(db.select(db.func.count()).select_from(MockLedgerEntry)) == 1
