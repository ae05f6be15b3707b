"""The sale_tenders migration: every sale closed before tenders existed gets the one tender it was paid by."""


from kasir import tenders
from kasir.extensions import db
from kasir.models import Sale, Tender
from kasir.payments.models import Payment
from support.config import sqlite_only

pytestmark = sqlite_only("upgrades a SQLite file made by an older Kasir")


def tender_of(sale_id: int) -> tuple:
    (tender,) = db.session.get(Sale, sale_id).tenders
    return tender.method, tender.amount, tender.tendered, tender.change, tender.edc_reference, tender.payment_id


def test_a_cash_sale_gets_its_cash_tender_with_tendered_and_change(upgraded):
    assert tender_of(1) == ("CASH", 11000, 20000, 9000, None, None)


def test_a_debit_sale_gets_its_debit_tender_with_the_edc_reference(upgraded):
    assert tender_of(2) == ("DEBIT", 6000, None, None, "EDC1234", None)


def test_a_qris_sale_gets_the_tender_of_its_paid_payment(upgraded):
    assert tender_of(3) == ("QRIS", 8500, None, None, None, "p3-paid")


def test_a_qris_sale_paid_by_less_than_its_total_keeps_only_the_money_that_came(upgraded):
    assert tender_of(4) == ("QRIS", 2500, None, None, None, "p4-short")
    assert tenders.due(db.session.get(Sale, 4)) == 4000


def test_a_refunded_qris_sale_and_a_voided_sale_keep_their_tenders(upgraded):
    assert tender_of(5) == ("QRIS", 6000, None, None, None, "p5-refunded")
    assert tender_of(6) == ("CASH", 3500, 5000, 1500, None, None)


def test_an_open_cart_gets_no_tender_and_no_payment_is_left_unapplied(upgraded):
    assert db.session.get(Sale, 7).tenders == []
    assert db.session.scalar(db.select(db.func.count(Tender.id))) == 6
    assert tenders.unapplied_amount(db.session.get(Payment, "p3-expired")) == 0
    assert tenders.unapplied_payments() == []
