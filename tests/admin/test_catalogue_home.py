"""The admin's home page: today's sales, payment mix, top products and what needs attention."""
import re

import pytest

from kasir import attention, tenders
from kasir.extensions import db
from kasir.models import PRINT_FAILED, PrintJob


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def section(page: str, name: str) -> str:
    return re.search(rf'data-section="{name}">(.*?)</section>', page, re.S)[1]


def test_home_shows_todays_total_and_the_cash_share(app, till, admin):
    tenders.pay_cash(till.add("SKU0001", "SKU0001").id, "10.000")  # 2 x Indomie Goreng 3.500
    page = admin.get("/admin").get_data(as_text=True)
    assert "Rp7.000" in page.replace("\u00a0", "").replace(" ", "")
    assert "Tunai (1)" in page


def test_home_lists_the_days_top_products(app, till, admin):
    tenders.pay_cash(till.add("SKU0001", "SKU0001").id, "10.000")
    top = section(admin.get("/admin").get_data(as_text=True), "top-products")
    assert "Indomie Goreng" in top and ">2<" in top


def test_nothing_needs_attention_on_a_quiet_day(admin):
    assert "Semua beres." in section(admin.get("/admin").get_data(as_text=True), "attention")


def test_a_failed_receipt_print_needs_attention(app, till, admin):
    sale = tenders.pay_cash(till.add("SKU0001").id, "5.000")
    with app.app_context():
        db.session.add(PrintJob(sale_id=sale.id, status=PRINT_FAILED, last_error="kertas habis"))
        db.session.commit()
    notices = section(admin.get("/admin").get_data(as_text=True), "attention")
    assert 'data-notice="failed-prints"' in notices and "struk gagal dicetak" in notices


def test_a_check_is_one_registry_entry(app, admin, monkeypatch):
    monkeypatch.setattr(attention, "CHECKS", [lambda report: attention.Notice("test", "Cek uji", "admin.index")])
    notices = section(admin.get("/admin").get_data(as_text=True), "attention")
    assert 'data-notice="test"' in notices and "Cek uji" in notices


def test_the_technical_qris_dashboard_is_linked_from_home(admin):
    assert 'href="/admin/dashboard"' in admin.get("/admin").get_data(as_text=True)
