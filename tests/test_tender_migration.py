"""The sale_tenders migration: every sale closed before tenders existed gets the one tender it was paid by."""
import sqlite3
from contextlib import closing

import pytest
from flask_migrate import upgrade

from conftest import BASE_CONFIG, sqlite_only
from kasir import create_app, tenders
from kasir.extensions import db
from kasir.models import Sale, Tender
from kasir.payments.models import Payment

pytestmark = sqlite_only("upgrades a SQLite file made by an older Kasir")

BEFORE_TENDERS = "0008_webhook_intake_bounds"
T = "'2026-11-20 03:00:00.000000'"

# A cash, a debit, a QRIS (its first QR expired), a QRIS paid by a QR for less than its total (issue 20),
# a refunded QRIS, a voided cash sale and an open cart.
OLD_DATA = f"""
INSERT INTO users (id, username, display_name, role, active, must_change_password, created_at)
VALUES (1, 'siti', 'Siti', 'cashier', 1, 0, {T});
INSERT INTO registers (id, code, name, active, display_version) VALUES (1, '1', 'Kasir 1', 1, 0);
INSERT INTO sales (id, register_id, cashier_id, number, business_date, status, subtotal, discount, total, method,
                   tendered, "change", edc_reference, created_at, updated_at, paid_at)
VALUES (1, 1, 1, 1, '2026-11-20', 'PAID', 11000, 0, 11000, 'CASH', 20000, 9000, NULL, {T}, {T}, {T}),
       (2, 1, 1, 2, '2026-11-20', 'PAID', 6000, 0, 6000, 'DEBIT', 6000, 0, 'EDC1234', {T}, {T}, {T}),
       (3, 1, 1, 3, '2026-11-20', 'PAID', 8500, 0, 8500, 'QRIS', NULL, NULL, NULL, {T}, {T}, {T}),
       (4, 1, 1, 4, '2026-11-20', 'PAID', 6500, 0, 6500, 'QRIS', NULL, NULL, NULL, {T}, {T}, {T}),
       (5, 1, 1, 5, '2026-11-20', 'PAID', 6000, 0, 6000, 'QRIS', NULL, NULL, NULL, {T}, {T}, {T}),
       (6, 1, 1, 6, '2026-11-20', 'VOID', 3500, 0, 3500, 'CASH', 5000, 1500, NULL, {T}, {T}, {T}),
       (7, 1, 1, NULL, NULL, 'OPEN', 3500, 0, 3500, NULL, NULL, NULL, NULL, {T}, {T}, NULL);
INSERT INTO payments (id, order_id, amount, currency, status, provider, late, attempt, sale_id, created_at,
                      updated_at, paid_at, sync_count)
VALUES ('p3-expired', 'POS-1-261120-0003-1', 8500, 'IDR', 'EXPIRED', 'mock', 0, 1, 3, {T}, {T}, NULL, 0),
       ('p3-paid', 'POS-1-261120-0003-2', 8500, 'IDR', 'PAID', 'mock', 0, 2, 3, {T}, {T}, {T}, 0),
       ('p4-short', 'POS-1-261120-0004-1', 2500, 'IDR', 'PAID', 'mock', 0, 1, 4, {T}, {T}, {T}, 0),
       ('p5-refunded', 'POS-1-261120-0005-1', 6000, 'IDR', 'REFUNDED', 'mock', 0, 1, 5, {T}, {T}, {T}, 0);
"""


@pytest.fixture
def upgraded(tmp_path):
    """A database at the revision before tenders, filled with a shop's sales, then upgraded to head."""
    path = tmp_path / "kasir.db"
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision=BEFORE_TENDERS)
        db.engine.dispose()
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(OLD_DATA)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        yield app
        db.engine.dispose()


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
