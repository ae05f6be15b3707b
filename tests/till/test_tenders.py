"""The money rule of a sale (DESIGN §3, kasir.tenders): a sale is PAID only when the money received covers it."""
from datetime import timedelta

import pytest

from kasir import sales, tenders
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import AuditLog, Sale, Tender
from kasir.payments import charges, service, states, sync
from kasir.payments.models import Payment, PaymentLog
from support.databases import fresh
from support.payments import gateway_pays, paid_body


def webhook_pays(payment: Payment) -> None:
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)


def sale_of(payment: Payment) -> Sale:
    return fresh(Sale, payment.sale_id)


def payment_now(payment: Payment) -> Payment:
    return fresh(Payment, payment.id)


def audited(action: str) -> list[AuditLog]:
    return list(db.session.scalars(db.select(AuditLog).where(AuditLog.action == action)))


# --- received and due --------------------------------------------------------------------------------------

def test_a_new_cart_has_received_nothing_and_owes_its_total(till):
    sale = till.add("SKU0001", "SKU0006")
    assert (tenders.received(sale), tenders.due(sale)) == (0, 7500)


def test_a_paid_sale_received_exactly_its_total_and_owes_nothing(till):
    paid = tenders.pay_cash(till.add("SKU0001", "SKU0006").id, "20.000")
    assert (tenders.received(paid), tenders.due(paid)) == (7500, 0)
    assert [(t.method, t.amount, t.tendered, t.change) for t in paid.tenders] == [("CASH", 7500, 20000, 12500)]


# --- a QR paid in full, by every path ----------------------------------------------------------------------

def test_a_qr_paid_by_webhook_closes_the_sale_with_its_qris_tender(send_webhook, pending_payment):
    assert send_webhook(paid_body(pending_payment)).status_code == 200
    sale = sale_of(pending_payment)
    assert (sale.status, sale.method, tenders.received(sale)) == ("PAID", "QRIS", 7500)
    assert sale.tenders[0].payment_id == pending_payment.id


def test_a_qr_paid_found_by_the_sync_job_closes_the_sale(pending_payment):
    gateway_pays(pending_payment)
    sync.sync_pending(now=utcnow() + timedelta(seconds=5))
    assert (sale_of(pending_payment).status, tenders.unapplied_amount(payment_now(pending_payment))) == ("PAID", 0)


def test_a_qr_paid_found_by_the_manual_check_closes_the_sale(pending_payment):
    gateway_pays(pending_payment)
    sync.check_status(pending_payment, source="manual")
    assert sale_of(pending_payment).status == "PAID"


def test_a_paid_status_applied_twice_makes_one_tender(pending_payment):
    webhook_pays(pending_payment)
    webhook_pays(pending_payment)
    gateway_pays(pending_payment)
    sync.check_status(pending_payment, source="manual")
    assert db.session.scalar(db.select(db.func.count(Tender.id))) == 1


def test_a_webhook_for_another_amount_is_refused_and_the_sale_stays_open(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment, amount=2500))
    assert response.status_code == 422
    sale = sale_of(pending_payment)
    assert (sale.status, tenders.received(sale), payment_now(pending_payment).status) == ("OPEN", 0, states.PENDING)


# --- a QR for part of the sale (split tender) -----------------------------------------------------------

def test_a_qr_for_part_of_the_sale_leaves_it_open_with_the_rest_due(till):
    sale = till.add("SKU0001", "SKU0006")
    payment = charges.create_for_sale(sale.id, 5000)
    webhook_pays(payment)
    sale = sale_of(payment)
    assert (sale.status, tenders.received(sale), tenders.due(sale)) == ("OPEN", 5000, 2500)
    assert payment_now(payment).review_reason is None
    assert tenders.part_paid_sales() == [sale]


def test_part_qr_then_cash_for_the_rest_closes_the_sale_as_split(till):
    sale = till.add("SKU0001", "SKU0006")
    webhook_pays(charges.create_for_sale(sale.id, 5000))
    paid = tenders.pay_cash(sale.id, "10.000")
    assert (paid.status, paid.method, paid.tendered, paid.change) == ("PAID", "SPLIT", 10000, 7500)
    assert [(t.method, t.amount) for t in paid.tenders] == [("QRIS", 5000), ("CASH", 2500)]


def test_part_qr_then_debit_for_the_rest_closes_the_sale_as_split(till):
    sale = till.add("SKU0001", "SKU0006")
    webhook_pays(charges.create_for_sale(sale.id, 2000))
    paid = tenders.pay_debit(sale.id, "EDC9876")
    assert (paid.status, paid.method, paid.edc_reference) == ("PAID", "SPLIT", "EDC9876")
    assert [(t.method, t.amount) for t in paid.tenders] == [("QRIS", 2000), ("DEBIT", 5500)]


def test_two_qrs_in_turn_pay_one_sale_and_the_second_defaults_to_what_is_left(till):
    sale = till.add("SKU0001", "SKU0006")
    webhook_pays(charges.create_for_sale(sale.id, 3000))
    second = charges.create_for_sale(sale.id)
    assert second.amount == 4500
    webhook_pays(second)
    paid = sale_of(second)
    assert (paid.status, paid.method, [t.amount for t in paid.tenders]) == ("PAID", "QRIS", [3000, 4500])


def test_part_cash_then_a_qr_for_the_rest_closes_the_sale(till):
    sale = till.add("SKU0001", "SKU0006")
    tenders.pay_cash(sale.id, "5.000", "5.000")
    payment = charges.create_for_sale(sale.id)
    assert payment.amount == 2500
    webhook_pays(payment)
    assert (sale_of(payment).status, sale_of(payment).method) == ("PAID", "SPLIT")


@pytest.mark.parametrize("amount", [0, -1, 7501])
def test_a_qr_amount_outside_one_rupiah_to_what_is_due_is_refused(till, amount):
    sale = till.add("SKU0001", "SKU0006")
    with pytest.raises(service.PaymentError, match="antara Rp 1 dan Rp 7.500"):
        charges.create_for_sale(sale.id, amount)
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_a_second_qr_while_one_is_open_is_refused(pending_payment):
    with pytest.raises(service.PaymentError, match="QR aktif Rp 7.500"):
        charges.create_for_sale(pending_payment.sale_id, 1000)


def test_a_fresh_qr_for_a_part_qr_keeps_its_amount(till):
    sale = till.add("SKU0001", "SKU0006")
    fresh_qr = charges.regenerate(charges.create_for_sale(sale.id, 5000))
    assert (fresh_qr.amount, fresh_qr.status) == (5000, states.PENDING)


def test_less_cash_than_the_part_it_pays_is_refused(till):
    sale = till.add("SKU0001", "SKU0006")  # 7.500
    with pytest.raises(sales.SaleError, match="kurang dari Rp 7.500"):
        tenders.pay_cash(sale.id, "5.000")
    with pytest.raises(sales.SaleError, match="kurang dari Rp 6.000"):
        tenders.pay_cash(sale.id, "5.000", "6.000")
    assert fresh(Sale, sale.id).tenders == []


def test_a_cash_amount_above_what_is_due_is_refused(till):
    sale = till.add("SKU0001")
    with pytest.raises(sales.SaleError, match="sisa tagihan"):
        tenders.add_cash(sale.id, 10000, amount=4000)


# --- money that does not fit ------------------------------------------------------------------------------

def test_a_qr_paid_after_cancel_is_late_and_does_not_close_the_sale(pending_payment):
    sync.cancel(pending_payment, source="pos")
    webhook_pays(pending_payment)
    payment, sale = payment_now(pending_payment), sale_of(pending_payment)
    assert (sale.status, tenders.received(sale)) == ("OPEN", 0)
    assert payment.late and payment.review_reason == tenders.LATE_PAYMENT
    assert tenders.unapplied_payments() == [(payment, 7500)]
    assert audited("LatePayment")


def test_a_qr_paid_after_expiry_is_late_and_does_not_close_the_sale(pending_payment):
    sync.expire_due(now=utcnow() + timedelta(minutes=16))
    webhook_pays(pending_payment)
    assert sale_of(pending_payment).status == "OPEN"
    assert tenders.unapplied_amount(payment_now(pending_payment)) == 7500


def test_the_cashier_may_apply_a_late_payment_to_its_open_sale_and_it_is_audited(pending_payment):
    sync.cancel(pending_payment, source="pos")
    webhook_pays(pending_payment)
    service.use_late_payment(pending_payment)
    payment, sale = payment_now(pending_payment), sale_of(pending_payment)
    assert (sale.status, payment.review_reason, tenders.unapplied_amount(payment)) == ("PAID", None, 0)
    assert audited("UseLatePayment")
    assert db.session.scalar(db.select(PaymentLog.event).where(PaymentLog.event == "applied_to_sale"))


def test_a_late_payment_cannot_be_applied_twice(pending_payment):
    sync.cancel(pending_payment, source="pos")
    webhook_pays(pending_payment)
    service.use_late_payment(pending_payment)
    with pytest.raises(service.PaymentError):
        service.use_late_payment(pending_payment)


def test_a_qr_paid_after_the_sale_was_paid_in_cash_is_a_double_payment_to_refund(pending_payment):
    sale_id = pending_payment.sale_id
    sync.cancel(pending_payment, source="pos")
    tenders.pay_cash(sale_id, "10.000")
    webhook_pays(pending_payment)
    payment = payment_now(pending_payment)
    assert payment.review_reason == tenders.DOUBLE_PAYMENT
    assert tenders.unapplied_payments() == [(payment, 7500)]
    assert [t.method for t in fresh(Sale, sale_id).tenders] == ["CASH"]


def test_more_money_than_is_due_is_applied_up_to_the_due_and_the_rest_is_an_overpayment(pending_payment):
    tenders.add_cash(pending_payment.sale_id, 5000, amount=5000)  # the QR on screen was for all 7.500
    webhook_pays(pending_payment)
    payment, sale = payment_now(pending_payment), sale_of(pending_payment)
    assert (sale.status, [t.amount for t in sale.tenders]) == ("PAID", [5000, 2500])
    assert tenders.unapplied_amount(payment) == 5000 and "Kelebihan bayar Rp 5.000" in payment.review_reason
    assert audited("OverPayment")[0].target == payment.order_id


def test_unapplied_payments_are_listed_by_when_they_were_paid(pending_payment):
    sync.cancel(pending_payment, source="pos")
    webhook_pays(pending_payment)
    paid_at = payment_now(pending_payment).paid_at
    assert tenders.unapplied_payments(paid_at + timedelta(seconds=1)) == []
    assert tenders.unapplied_payments(paid_at, paid_at + timedelta(seconds=1))[0][1] == 7500


def test_api_payments_are_never_unapplied_sale_money(till, api):
    created = api.create(order_id="WEB-77", amount=5000)
    payment = db.session.get(Payment, created.json["payment_id"])
    webhook_pays(payment)
    assert tenders.unapplied_amount(payment_now(payment)) == 0 and tenders.unapplied_payments() == []


# --- the cart lock ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    lambda sale: sales.add_by_code(sale, "SKU0002"),
    lambda sale: sales.set_quantity(sale, sale.items[0].id, 3),
    lambda sale: sales.remove_item(sale, sale.items[0].id),
    lambda sale: sales.clear(sale),
    lambda sale: sales.set_line_discount(sale, sale.items[0].id, "10%"),
    lambda sale: sales.set_sale_discount(sale, "1000"),
], ids=["add", "quantity", "remove", "clear", "line discount", "sale discount"])
def test_every_cart_change_is_refused_while_a_qr_is_open(till, pending_payment, change):
    sale = fresh(Sale, pending_payment.sale_id)
    with pytest.raises(sales.SaleError, match="Keranjang terkunci: QR aktif Rp 7.500. Batalkan QR dulu."):
        change(sale)


def test_the_cart_unlocks_when_its_qr_is_cancelled(till, pending_payment):
    sync.cancel(pending_payment, source="pos")
    sale = till.add("SKU0002")
    assert sale.total == 7500 + 3300 and sales.cart_lock(sale) is None


def test_the_cart_stays_locked_once_part_of_it_is_paid(till):
    sale = till.add("SKU0001", "SKU0006")
    tenders.pay_cash(sale.id, "5.000", "5.000")
    with pytest.raises(sales.SaleError, match="sudah dibayar Rp 5.000"):
        sales.add_by_code(fresh(Sale, sale.id), "SKU0002")


def test_a_cart_changed_after_cancel_is_paid_only_by_its_new_qr_and_the_old_one_is_late(till, pending_payment):
    """Issue 20, second reproduction: the cancelled QR paid late never closes the bigger cart."""
    sync.cancel(pending_payment, source="pos")
    sale = till.add("SKU0002")
    webhook_pays(pending_payment)  # the customer pays the cancelled Rp 7.500 QR
    assert (sale_of(pending_payment).status, tenders.received(sale_of(pending_payment))) == ("OPEN", 0)
    fresh_qr = charges.create_for_sale(sale.id)
    assert fresh_qr.amount == 10800
    webhook_pays(fresh_qr)
    assert (sale_of(fresh_qr).status, tenders.received(sale_of(fresh_qr))) == ("PAID", 10800)
    assert tenders.unapplied_payments() == [(payment_now(pending_payment), 7500)]
