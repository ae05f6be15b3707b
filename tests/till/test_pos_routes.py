"""The cashier screen over HTTP: register choice, cart actions, checkout, today's sales, void, receipts."""
import html
import re

import pytest

from kasir.extensions import db
from kasir.models import Product, Register, Sale
from support.config import CASHIER

# SKU0001 Indomie Goreng 85 g 3.500 (stock 120), SKU0006 Aqua Air Mineral 600 ml 4.000 (stock 96)


@pytest.fixture
def pos(auth, htmx):
    """A cashier logged in on register 1, sending htmx requests."""
    auth.login_cashier()
    return htmx


def open_sale(app):
    with app.app_context():
        register = db.session.scalar(db.select(Register).where(Register.code == "1"))
        sale = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == "OPEN"))
        return None if sale is None else {
            "id": sale.id, "total": sale.total, "status": sale.status,
            "items": {item.sku: (item.id, item.quantity, item.line_total) for item in sale.items},
        }


def cart(app):
    sale = open_sale(app)
    return {sku: quantity for sku, (_id, quantity, _total) in sale["items"].items()} if sale else {}


def item_id(app, sku):
    return open_sale(app)["items"][sku][0]


def sale_row(app, sale_id):
    with app.app_context():
        sale = db.session.get(Sale, sale_id)
        return {"status": sale.status, "method": sale.method, "change": sale.change, "tendered": sale.tendered,
                "edc_reference": sale.edc_reference, "display_number": sale.display_number}


def stock(app, sku):
    with app.app_context():
        return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def paid_count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Sale.id)).where(Sale.status == "PAID"))


def scan(pos, code):
    return pos.post("/pos/cart/scan", data={"q": code})


def fill(pos, app, *codes):
    for code in codes:
        assert scan(pos, code).status_code == 200
    return open_sale(app)["id"]


def assert_toast(response, text):
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#toast"
    assert text in html.unescape(response.get_data(as_text=True))


def pay_cash(pos, sale_id, tendered, part=None):
    data = {"sale_id": str(sale_id), "tendered": tendered}
    return pos.post("/pos/checkout/cash", data=data if part is None else {**data, "amount": part})


def receipt_lines(body: str) -> list[str]:
    return [html.unescape(text) for text in re.findall(r'<div class="receipt-line[^"]*">(.*?)</div>', body)]


# --- register -----------------------------------------------------------------------------------------

def test_pos_without_a_register_cookie_sends_the_browser_to_choose_one(client):
    client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    response = client.get("/pos")
    assert response.status_code == 302
    assert response.headers["Location"] == "/pos/register"


def test_htmx_request_without_a_register_is_redirected_by_htmx(client, htmx):
    client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert htmx.post("/pos/cart/scan", data={"q": "SKU0001"}).headers["HX-Redirect"] == "/pos/register"


def test_choosing_a_register_remembers_it_in_a_cookie(client):
    client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert "Kasir 1" in client.get("/pos/register").get_data(as_text=True)
    response = client.post("/pos/register", data={"register": "1"})
    assert response.headers["Location"] == "/pos"
    assert client.get_cookie("kasir_register").value == "1"
    assert client.get("/pos").status_code == 200


def test_choosing_an_unknown_register_is_refused(client):
    client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    response = client.post("/pos/register", data={"register": "99"})
    assert response.status_code == 422
    assert client.get_cookie("kasir_register") is None


def test_pos_requires_login(client):
    client.set_cookie("kasir_register", "1")
    assert client.get("/pos").headers["Location"].startswith("/login")


# --- cart ---------------------------------------------------------------------------------------------

def test_scanning_a_barcode_adds_the_product_and_answers_with_the_cart(pos, app):
    with app.app_context():
        barcode = db.session.scalar(db.select(Product.barcode).where(Product.sku == "SKU0006"))
    response = scan(pos, barcode)
    assert response.status_code == 200
    assert 'id="cart"' in response.get_data(as_text=True)
    assert "Rp 4.000" in response.get_data(as_text=True)
    assert cart(app) == {"SKU0006": 1}


def test_scanning_an_unknown_barcode_shows_a_toast_and_leaves_the_cart_alone(pos, app):
    fill(pos, app, "SKU0001")
    assert_toast(scan(pos, "8990000099999"), "8990000099999")
    assert cart(app) == {"SKU0001": 1}


def test_a_search_that_matches_exactly_one_product_adds_it(pos, app):
    assert scan(pos, "pocari").status_code == 200
    assert cart(app) == {"SKU0010": 1}


def test_a_search_that_matches_several_products_asks_to_pick_one_and_shows_them(pos, app):
    response = scan(pos, "Indomie")
    assert_toast(response, "2 produk cocok dengan “Indomie”: pilih salah satu.")
    body = html.unescape(response.get_data(as_text=True))
    assert "tidak dikenal" not in body
    grid = body.split('<div id="products" hx-swap-oob="innerHTML">', 1)[1]
    assert re.findall(r'class="product-name">([^<]+)<', grid) == ["Indomie Goreng 85 g", "Indomie Soto Mie 75 g"]
    assert cart(app) == {}


def test_a_quantity_before_a_star_adds_that_many(pos, app):
    with app.app_context():
        barcode = db.session.scalar(db.select(Product.barcode).where(Product.sku == "SKU0006"))
    assert scan(pos, f"3*{barcode}").status_code == 200
    assert scan(pos, "2 * pocari").status_code == 200
    assert cart(app) == {"SKU0006": 3, "SKU0010": 2}


def test_a_star_quantity_below_one_is_refused(pos, app):
    assert_toast(scan(pos, "0*SKU0001"), "Jumlah minimal 1")
    assert cart(app) == {}


def changed_lines(response) -> list[str]:
    return re.findall(r'data-item="([^"]+)" data-line="\d+" data-changed', response.get_data(as_text=True))


def test_the_cart_marks_the_line_just_scanned_or_changed(pos, app):
    fill(pos, app, "SKU0001", "SKU0006")
    assert changed_lines(scan(pos, "SKU0003")) == ["SKU0003"]
    assert changed_lines(scan(pos, "SKU0001")) == ["SKU0001"]  # one more of an earlier line
    line = item_id(app, "SKU0006")
    assert changed_lines(pos.post(f"/pos/cart/items/{line}/quantity", data={"quantity": "4"})) == ["SKU0006"]
    assert changed_lines(pos.post(f"/pos/cart/items/{line}/remove")) == []


def test_the_quantity_is_a_field_that_sets_it_when_changed(pos, app):
    fill(pos, app, "SKU0001")
    body = pos.get("/pos/cart").get_data(as_text=True)
    field = re.search(r'<input class="qty-input"[^>]*>', body).group(0)
    assert 'name="quantity" value="1"' in field and 'inputmode="numeric"' in field
    assert f'hx-post="/pos/cart/items/{item_id(app, "SKU0001")}/quantity"' in field and 'hx-trigger="change"' in field


def test_empty_scan_asks_for_a_code(pos):
    assert_toast(scan(pos, "  "), "Ketik atau pindai barcode")


def test_product_tile_adds_the_product(pos, app):
    with app.app_context():
        product_id = db.session.scalar(db.select(Product.id).where(Product.sku == "SKU0006"))
    assert pos.post(f"/pos/cart/add/{product_id}").status_code == 200
    assert cart(app) == {"SKU0006": 1}


def test_plus_and_minus_change_the_quantity(pos, app):
    fill(pos, app, "SKU0001")
    line = item_id(app, "SKU0001")
    pos.post(f"/pos/cart/items/{line}/quantity", data={"delta": "1"})
    pos.post(f"/pos/cart/items/{line}/quantity", data={"delta": "1"})
    assert cart(app) == {"SKU0001": 3}
    pos.post(f"/pos/cart/items/{line}/quantity", data={"delta": "-1"})
    assert cart(app) == {"SKU0001": 2}
    assert open_sale(app)["total"] == 7000


def test_typed_quantity_replaces_the_quantity(pos, app):
    fill(pos, app, "SKU0001")
    response = pos.post(f"/pos/cart/items/{item_id(app, 'SKU0001')}/quantity", data={"quantity": "12"})
    assert response.status_code == 200
    assert cart(app) == {"SKU0001": 12}


@pytest.mark.parametrize("data, message", [
    ({"quantity": "abc"}, "Jumlah harus angka bulat"),
    ({"quantity": "-1"}, "Jumlah minimal 1"),
    ({"quantity": "0"}, "Jumlah minimal 1"),
    ({"delta": "-1"}, "Jumlah minimal 1"),
])
def test_invalid_quantity_shows_a_toast_and_changes_nothing(pos, app, data, message):
    fill(pos, app, "SKU0001")
    assert_toast(pos.post(f"/pos/cart/items/{item_id(app, 'SKU0001')}/quantity", data=data), message)
    assert cart(app) == {"SKU0001": 1}


def test_remove_takes_the_line_out_of_the_cart(pos, app):
    fill(pos, app, "SKU0001", "SKU0006")
    assert pos.post(f"/pos/cart/items/{item_id(app, 'SKU0001')}/remove").status_code == 200
    assert cart(app) == {"SKU0006": 1}
    assert open_sale(app)["total"] == 4000


def test_quantity_of_another_registers_line_is_refused(pos, app):
    fill(pos, app, "SKU0001")
    assert_toast(pos.post("/pos/cart/items/999999/quantity", data={"delta": "1"}), "tidak ada di keranjang")


def test_line_discount_in_rupiah_lowers_the_total(pos, app):
    fill(pos, app, "SKU0006", "SKU0006")  # 2 x 4.000
    response = pos.post(f"/pos/cart/items/{item_id(app, 'SKU0006')}/discount", data={"discount": "1.000"})
    assert response.status_code == 200
    assert open_sale(app)["total"] == 7000


def test_sale_discount_in_percent_lowers_the_total(pos, app):
    fill(pos, app, "SKU0006", "SKU0006", "SKU0001")  # 8.000 + 3.500
    assert pos.post("/pos/cart/discount", data={"discount": "10%"}).status_code == 200
    assert open_sale(app)["total"] == 10350


def test_discount_larger_than_the_line_is_refused(pos, app):
    fill(pos, app, "SKU0006")
    assert_toast(pos.post(f"/pos/cart/items/{item_id(app, 'SKU0006')}/discount", data={"discount": "5.000"}),
                 "Diskon melebihi")
    assert open_sale(app)["total"] == 4000


def test_clear_empties_the_cart(pos, app):
    fill(pos, app, "SKU0001", "SKU0006")
    pos.post("/pos/cart/clear")
    assert cart(app) == {}


# --- checkout -----------------------------------------------------------------------------------------

def test_cash_panel_offers_the_exact_amount_and_larger_notes(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")
    body = pos.get("/pos/pay/cash").get_data(as_text=True)
    assert f'name="sale_id" value="{sale_id}"' in body
    assert "Rp 7.500" in body
    assert "20.000" in body and "100.000" in body


def test_paying_an_empty_cart_is_refused(pos):
    assert_toast(pos.get("/pos/pay/cash"), "Keranjang masih kosong")


def test_cash_with_cents_is_refused_and_the_sale_stays_open(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")
    assert_toast(pay_cash(pos, sale_id, "15.000,5"), "tanpa sen")
    assert sale_row(app, sale_id)["status"] == "OPEN"
    assert stock(app, "SKU0001") == 120


def test_cash_less_than_the_total_is_refused_and_changes_nothing(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")  # 7.500
    assert_toast(pay_cash(pos, sale_id, "5.000"), "Uang diterima kurang dari Rp 7.500")
    assert sale_row(app, sale_id)["status"] == "OPEN"
    with app.app_context():
        assert db.session.get(Sale, sale_id).tenders == []


def test_cash_for_a_named_part_is_a_part_payment_and_the_till_shows_what_is_left(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")  # 7.500
    body = html.unescape(pay_cash(pos, sale_id, "5.000", part="5.000").get_data(as_text=True))
    assert re.search(r"Sudah dibayar <strong>Rp 5\.000</strong> · Sisa <strong>Rp 2\.500</strong>", body)
    assert re.search(r"data-cart-due><span>Sisa</span><span>Rp 2\.500</span>", body)
    assert sale_row(app, sale_id)["status"] == "OPEN"


def test_cash_checkout_shows_the_change_and_empties_the_cart_out_of_band(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")  # 7.500
    response = pay_cash(pos, sale_id, "20.000")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r"data-change>\s*Rp 12\.500\s*<", body)
    oob_cart = re.search(r'<section id="cart"[^>]*hx-swap-oob="true"[^>]*>(.*?)</section>', body, re.S)
    assert oob_cart is not None
    assert re.search(r"data-cart-total>\s*Rp 0\s*<", oob_cart.group(1))
    row = sale_row(app, sale_id)
    assert (row["status"], row["method"], row["tendered"], row["change"]) == ("PAID", "CASH", 20000, 12500)
    assert (stock(app, "SKU0001"), stock(app, "SKU0006")) == (119, 95)
    assert cart(app) == {}


def test_quick_tender_button_pays_its_amount(pos, app):
    sale_id = fill(pos, app, "SKU0001")
    response = pos.post("/pos/checkout/cash", data={"sale_id": str(sale_id), "quick": "50000", "tendered": ""})
    assert response.status_code == 200
    assert sale_row(app, sale_id)["change"] == 46500


def test_repeated_checkout_post_shows_the_paid_screen_again_and_pays_once(pos, app):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")
    first = pay_cash(pos, sale_id, "20.000")
    second = pay_cash(pos, sale_id, "20.000")
    assert first.status_code == second.status_code == 200
    assert "Rp 12.500" in second.get_data(as_text=True)
    assert paid_count(app) == 1
    assert stock(app, "SKU0001") == 119


def test_debit_without_an_edc_reference_is_refused(pos, app):
    sale_id = fill(pos, app, "SKU0001")
    assert_toast(pos.post("/pos/checkout/debit", data={"sale_id": str(sale_id), "edc_reference": ""}),
                 "Nomor referensi EDC wajib diisi")
    assert sale_row(app, sale_id)["status"] == "OPEN"


def test_debit_with_an_edc_reference_pays_the_sale(pos, app):
    sale_id = fill(pos, app, "SKU0001")
    response = pos.post("/pos/checkout/debit", data={"sale_id": str(sale_id), "edc_reference": "REF123456"})
    assert response.status_code == 200
    assert "REF123456" in response.get_data(as_text=True)
    row = sale_row(app, sale_id)
    assert (row["status"], row["method"], row["edc_reference"]) == ("PAID", "DEBIT", "REF123456")


def test_checkout_of_an_unknown_sale_is_refused(pos):
    assert_toast(pay_cash(pos, 999999, "20.000"), "Transaksi tidak ditemukan")


def test_checkout_of_another_registers_cart_is_refused(pos, app):
    with app.app_context():
        other = Register(code="2", name="Kasir 2")
        db.session.add(other)
        db.session.flush()
        sale = Sale(register_id=other.id, status="OPEN", subtotal=0, discount=0, total=0)
        db.session.add(sale)
        db.session.commit()
        other_sale_id = sale.id
    fill(pos, app, "SKU0001")
    assert_toast(pay_cash(pos, other_sale_id, "20.000"), "Transaksi tidak ditemukan")
    assert sale_row(app, other_sale_id)["status"] == "OPEN"


# --- today's sales, void ------------------------------------------------------------------------------

def test_todays_sales_list_shows_the_paid_sale(pos, app, client):
    sale_id = fill(pos, app, "SKU0001", "SKU0006")
    pay_cash(pos, sale_id, "20.000")
    body = client.get("/pos/sales").get_data(as_text=True)
    assert sale_row(app, sale_id)["display_number"] in body
    assert "Rp 7.500" in body and "Lunas" in body


@pytest.fixture
def paid_sale(pos, app, auth):
    """A cash sale of SKU0001 + SKU0006 paid on register 1; the client is then logged in as admin."""
    sale_id = fill(pos, app, "SKU0001", "SKU0006")
    pay_cash(pos, sale_id, "20.000")
    auth.logout()
    auth.login_admin()
    return sale_id


def test_void_requires_a_reason(paid_sale, client, app):
    response = client.post(f"/admin/sales/{paid_sale}/void", data={"reason": ""})
    assert response.status_code == 422
    assert "Alasan pembatalan wajib diisi" in response.get_data(as_text=True)
    assert sale_row(app, paid_sale)["status"] == "PAID"


def test_void_restores_stock_and_the_list_shows_batal(paid_sale, client, app):
    assert stock(app, "SKU0001") == 119
    response = client.post(f"/admin/sales/{paid_sale}/void", data={"reason": "Salah input barang"})
    assert response.status_code == 302
    assert sale_row(app, paid_sale)["status"] == "VOID"
    assert (stock(app, "SKU0001"), stock(app, "SKU0006")) == (120, 96)
    listing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Batal" in listing
    assert "Salah input barang" in listing


def test_voiding_twice_is_refused_and_restores_stock_once(paid_sale, client, app):
    client.post(f"/admin/sales/{paid_sale}/void", data={"reason": "Salah input"})
    response = client.post(f"/admin/sales/{paid_sale}/void", data={"reason": "Salah input"})
    assert response.status_code == 422
    assert stock(app, "SKU0001") == 120


def test_cashier_cannot_void(pos, app):
    sale_id = fill(pos, app, "SKU0001")
    pay_cash(pos, sale_id, "5.000")
    assert pos.post(f"/admin/sales/{sale_id}/void", data={"reason": "iseng saja"}).status_code == 403
    assert sale_row(app, sale_id)["status"] == "PAID"


# --- receipts -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("width, columns", [(58, 32), (80, 48)])
def test_receipt_preview_fits_the_paper_width_and_shows_total_and_change(pos, app, client, width, columns):
    sale_id = fill(pos, app, "SKU0001", "SKU0015", "SKU0006")  # Beras Pandan Wangi 5 kg: a long name
    pay_cash(pos, sale_id, "100.000")
    response = client.get(f"/receipts/{sale_id}?width={width}")
    assert response.status_code == 200
    lines = receipt_lines(response.get_data(as_text=True))
    assert lines
    assert max(len(line) for line in lines) <= columns
    assert any(line.startswith("TOTAL") and line.endswith("Rp 85.500") for line in lines)
    assert any(line.startswith("Kembali") and line.endswith("14.500") for line in lines)


def test_receipt_of_an_open_sale_is_not_found(pos, app, client):
    sale_id = fill(pos, app, "SKU0001")
    assert client.get(f"/receipts/{sale_id}").status_code == 404


def test_receipt_of_an_unknown_sale_is_not_found(pos, client):
    assert client.get("/receipts/999999").status_code == 404
