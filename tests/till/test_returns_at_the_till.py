""""Retur" at the till: a paid sale's items taken back through the modal, refunded in cash, approved by a supervisor."""
import html
from datetime import timedelta

import pytest

from kasir.extensions import db
from kasir.models import Product, Register, Sale, SaleReturn
from support.config import ADMIN
from support.databases import fresh

SUPERVISOR = {"approver": ADMIN[0], "approver_secret": ADMIN[1]}


@pytest.fixture
def pos(auth, htmx, app):
    with app.app_context():
        auth.login_cashier()
        yield htmx


def paid_sale(pos, *skus):
    for sku in skus:
        assert pos.post("/pos/cart/scan", data={"q": sku}).status_code == 200
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    sale = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == "OPEN"))
    assert pos.post("/pos/checkout/cash", data={"sale_id": str(sale.id), "tendered": "100.000"}).status_code == 200
    return fresh(Sale, sale.id)


def stock(sku):
    db.session.expire_all()
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def test_todays_sales_offer_retur_for_a_paid_sale(pos):
    sale = paid_sale(pos, "SKU0006")
    page = pos.get("/pos/sales").get_data(as_text=True)
    assert f"/pos/sales/{sale.id}/return" in page


def test_the_return_modal_lists_the_sales_items(pos):
    sale = paid_sale(pos, "SKU0006", "SKU0001")
    modal = html.unescape(pos.get(f"/pos/sales/{sale.id}/return").get_data(as_text=True))
    assert f"Retur {sale.display_number}" in modal and all(f'name="qty-{item.id}"' in modal for item in sale.items)


def test_a_cashiers_return_asks_a_supervisor_and_records_nothing_yet(pos):
    sale = paid_sale(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1"})
    assert response.status_code == 403 and "Persetujuan Supervisor" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(SaleReturn.id))) == 0


def test_an_approved_return_refunds_cash_and_puts_stock_back(pos):
    sale = paid_sale(pos, "SKU0006", "SKU0006")
    item = sale.items[0]
    before = stock(item.sku)
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{item.id}": "1", **SUPERVISOR})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/pos/sales"
    assert stock(item.sku) == before + 1
    sale_return = db.session.scalar(db.select(SaleReturn))
    assert sale_return.amount == item.unit_price
    assert f"Kembalikan tunai Rp {item.unit_price:,}".replace(",", ".") in \
        html.unescape(pos.get("/pos/sales").get_data(as_text=True))


def test_returning_more_than_was_bought_is_refused_in_the_modal(pos):
    sale = paid_sale(pos, "SKU0006")
    item = sale.items[0]
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{item.id}": "5", **SUPERVISOR})
    assert response.status_code == 422
    assert "paling banyak 1 bisa diretur" in html.unescape(response.get_data(as_text=True))
    assert db.session.scalar(db.select(db.func.count(SaleReturn.id))) == 0


def test_a_quantity_that_is_not_a_number_is_refused(pos):
    sale = paid_sale(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "x", **SUPERVISOR})
    assert response.status_code == 422 and "bilangan bulat" in response.get_data(as_text=True)


def earlier(sale, days):
    """Move a paid sale `days` back: a receipt the customer brings from another day."""
    row = db.session.get(Sale, sale.id)
    row.business_date -= timedelta(days=days)
    row.created_at -= timedelta(days=days)
    row.paid_at -= timedelta(days=days)
    db.session.commit()
    return fresh(Sale, sale.id)


def test_a_receipt_number_from_another_day_opens_the_return_modal(pos):
    sale = earlier(paid_sale(pos, "SKU0006"), 3)
    assert sale.display_number not in pos.get("/pos/sales").get_data(as_text=True)
    modal = html.unescape(pos.get("/pos/returns/find", query_string={"number": sale.display_number.lower()})
                          .get_data(as_text=True))
    assert f"Retur {sale.display_number}" in modal and f'name="qty-{sale.items[0].id}"' in modal


def test_a_return_by_receipt_number_is_recorded_like_todays(pos):
    sale = earlier(paid_sale(pos, "SKU0006"), 3)
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1", **SUPERVISOR})
    assert response.status_code == 204
    assert db.session.scalar(db.select(db.func.count(SaleReturn.id)).where(SaleReturn.sale_id == sale.id)) == 1


def test_an_unknown_receipt_number_is_refused_in_words(pos):
    answer = pos.get("/pos/returns/find", query_string={"number": "1-200101-0099"})
    assert answer.status_code == 404 and "tidak ditemukan" in answer.get_data(as_text=True)


def test_another_registers_receipt_is_returned_at_that_register(pos):
    sale = paid_sale(pos, "SKU0006")
    other = Register(code="2", name="Kasir 2")
    db.session.add(other)
    db.session.flush()
    db.session.get(Sale, sale.id).register_id = other.id
    db.session.commit()
    answer = pos.get("/pos/returns/find", query_string={"number": fresh(Sale, sale.id).display_number})
    assert answer.status_code == 409 and "dari Kasir 2" in answer.get_data(as_text=True)
