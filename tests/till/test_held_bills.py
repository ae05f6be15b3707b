"""Held bills: the cashier parks a cart ("Simpan"), serves the next customer, and resumes it ("Lanjutkan")."""
import html
import re

import pytest

from kasir import create_app
from kasir.extensions import db
from kasir.models import AuditLog, HeldBill, Register, Sale
from support.client import AuthActions

# SKU0001 Indomie Goreng 85 g 3.500, SKU0006 Aqua Air Mineral 600 ml 4.000


@pytest.fixture
def pos(auth, htmx):
    auth.login_cashier()
    return htmx


def scan(pos, *codes):
    for code in codes:
        assert pos.post("/pos/cart/scan", data={"q": code}).status_code == 200


def cart(app):
    """The register's cart as {sku: quantity}, and its total."""
    with app.app_context():
        register = db.session.scalar(db.select(Register).where(Register.code == "1"))
        sale = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == "OPEN"))
        if sale is None:
            return {}, 0
        return {item.sku: item.quantity for item in sale.items}, sale.total


def held(app):
    """The register's held bills as (id, item count, total), oldest first."""
    with app.app_context():
        bills = db.session.scalars(db.select(HeldBill).order_by(HeldBill.id)).all()
        return [(bill.id, bill.sale.item_count, bill.sale.total) for bill in bills]


def body(response):
    return html.unescape(response.get_data(as_text=True))


def assert_toast(response, text):
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#toast"
    assert text in body(response)


def test_simpan_parks_the_cart_and_leaves_an_empty_one_for_the_next_customer(pos, app):
    scan(pos, "SKU0001", "SKU0001", "SKU0006")
    response = pos.post("/pos/held")
    assert response.status_code == 200
    assert "(0 barang)" in body(response) and "Tersimpan (1)" in body(response)
    assert cart(app) == ({}, 0)
    assert [(count, total) for _id, count, total in held(app)] == [(3, 11000)]


def test_lanjutkan_makes_the_held_bill_the_cart_again(pos, app):
    scan(pos, "SKU0001", "SKU0006")
    pos.post("/pos/held")
    [(bill_id, _count, _total)] = held(app)
    response = pos.post(f"/pos/held/{bill_id}/resume")
    assert response.status_code == 200
    assert 'id="modal" hx-swap-oob="innerHTML"' in body(response)
    assert cart(app) == ({"SKU0001": 1, "SKU0006": 1}, 7500)
    assert held(app) == []


def test_a_register_keeps_several_held_bills_listed_with_time_items_and_total(pos, app):
    scan(pos, "SKU0001")
    pos.post("/pos/held")
    scan(pos, "SKU0006", "SKU0006")
    pos.post("/pos/held")
    response = pos.get("/pos/held")
    assert response.status_code == 200
    rows = re.findall(r'<tr data-held="\d+">(.*?)</tr>', body(response), re.S)
    assert len(rows) == 2
    assert "Rp 3.500" in rows[0] and "Rp 8.000" in rows[1]
    assert re.search(r"<td>\d\d:\d\d</td>", rows[0]) and '<td class="num">2</td>' in rows[1]


def test_a_resumed_bill_is_paid_like_any_cart(pos, app):
    scan(pos, "SKU0006")
    pos.post("/pos/held")
    scan(pos, "SKU0001")
    [(bill_id, _c, _t)] = held(app)
    assert_toast(pos.post(f"/pos/held/{bill_id}/resume"), "Keranjang masih berisi")
    pos.post("/pos/cart/clear")
    pos.post(f"/pos/held/{bill_id}/resume")
    with app.app_context():
        sale_id = db.session.scalar(db.select(Sale.id).where(Sale.status == "OPEN"))
    response = pos.post("/pos/checkout/cash", data={"sale_id": str(sale_id), "tendered": "5000"})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.get(Sale, sale_id).status == "PAID"


def test_an_empty_cart_cannot_be_parked(pos, app):
    assert_toast(pos.post("/pos/held"), "Keranjang kosong")
    assert held(app) == []


def test_a_double_tap_on_simpan_parks_once(pos, app):
    scan(pos, "SKU0001")
    pos.post("/pos/held")
    assert_toast(pos.post("/pos/held"), "Keranjang kosong")
    assert len(held(app)) == 1


def test_a_bill_resumed_twice_is_refused_the_second_time(pos, app):
    scan(pos, "SKU0001")
    pos.post("/pos/held")
    [(bill_id, _c, _t)] = held(app)
    pos.post(f"/pos/held/{bill_id}/resume")
    assert_toast(pos.post(f"/pos/held/{bill_id}/resume"), "tidak ditemukan")
    assert cart(app) == ({"SKU0001": 1}, 3500)


def test_a_cart_with_an_open_qr_cannot_be_parked(pos, app):
    scan(pos, "SKU0001")
    assert pos.post("/pos/checkout/qris").status_code == 200
    assert_toast(pos.post("/pos/held"), "Batalkan QR dulu")
    assert held(app) == []


def test_a_cart_with_money_taken_cannot_be_parked(pos, app):
    scan(pos, "SKU0001", "SKU0006")
    with app.app_context():
        sale_id = db.session.scalar(db.select(Sale.id).where(Sale.status == "OPEN"))
    pos.post("/pos/checkout/cash", data={"sale_id": str(sale_id), "tendered": "5000", "amount": "5000"})
    assert_toast(pos.post("/pos/held"), "sudah dibayar")
    assert held(app) == []


def test_parking_and_resuming_are_audited(pos, app):
    scan(pos, "SKU0001")
    pos.post("/pos/held")
    [(bill_id, _c, _t)] = held(app)
    pos.post(f"/pos/held/{bill_id}/resume")
    with app.app_context():
        actions = db.session.scalars(db.select(AuditLog.action).order_by(AuditLog.id)).all()
    assert "Cart held" in actions and "Cart resumed" in actions


def test_held_bills_survive_a_restart_on_the_same_database(pos, app, app_config):
    scan(pos, "SKU0001", "SKU0006")
    pos.post("/pos/held")
    with app.app_context():
        db.engine.dispose()
    restarted = create_app(app_config)
    client = restarted.test_client()
    AuthActions(client).login_cashier()
    listing = client.get("/pos/held", headers={"HX-Request": "true"})
    assert "Rp 7.500" in body(listing)
    [(bill_id, _c, _t)] = held(restarted)
    client.post(f"/pos/held/{bill_id}/resume", headers={"HX-Request": "true"})
    assert cart(restarted) == ({"SKU0001": 1, "SKU0006": 1}, 7500)
    with restarted.app_context():
        db.engine.dispose()
