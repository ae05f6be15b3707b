"""Shelf labels: EAN-13 for a valid EAN-13 barcode else Code128, on ESC/POS (python-escpos Dummy) and an A4 sheet."""
import pytest

from kasir.extensions import db
from kasir.models import Product
from kasir.printing import labels

# SKU0001 Indomie Goreng 85 g 3.500, SKU0006 Aqua Air Mineral 600 ml
VALID_EAN13 = "4006381333931"


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def make_label(code):
    return labels.label_for(Product(sku="KOPI-01", barcode=code, name="Kopi Tubruk", price=15000))


def product_id(app, sku):
    with app.app_context():
        return db.session.scalar(db.select(Product.id).where(Product.sku == sku))


@pytest.mark.parametrize("code, valid", [("8990000000013", True), ("8990000000015", False), ("899000000001", False),
                                          ("899000000001a", False), ("4006381333931", True)])
def test_ean13_is_recognised_by_its_check_digit(code, valid):
    assert labels.is_ean13(code) is valid


def test_a_valid_ean13_barcode_prints_as_ean13_on_escpos(app):
    label = make_label(VALID_EAN13)
    data = labels.render_bytes([label])
    assert label.symbology == "EAN13"
    assert b"\x1dkC\r" + VALID_EAN13.encode() in data  # GS k, function B, EAN13 (67), 13 digits
    assert b"Kopi Tubruk" in data and b"Rp 15.000" in data


def test_any_other_code_prints_as_code128_on_escpos(app):
    label = make_label(None)  # no barcode: the SKU
    data = labels.render_bytes([label])
    assert label.symbology == "CODE128"
    assert b"\x1dkI\x09{BKOPI-01" in data  # GS k, function B, CODE128 (73), length, code set B


def test_every_label_is_cut(app):
    data = labels.render_bytes([make_label(None), make_label(VALID_EAN13)])
    assert data.count(b"\x1dV") == 2


def add_product(app, barcode):
    with app.app_context():
        db.session.add(Product(sku="KOPI-01", name="Kopi Tubruk", price=15000, barcode=barcode))
        db.session.commit()


def test_the_a4_sheet_shows_each_chosen_product_with_an_svg_barcode(admin, app):
    add_product(app, VALID_EAN13)
    page = admin.get(f"/admin/labels/sheet?product={product_id(app, 'KOPI-01')}").get_data(as_text=True)
    assert 'data-symbology="EAN13"' in page and "<svg" in page and "Kopi Tubruk" in page
    assert "Rp 15.000" in page and "<?xml" not in page


def test_the_sheet_shows_products_in_the_order_chosen(admin, app):
    first, second = product_id(app, "SKU0006"), product_id(app, "SKU0001")
    page = admin.get(f"/admin/labels/sheet?product={first}&product={second}").get_data(as_text=True)
    assert page.index("Aqua") < page.index("Indomie Goreng 85 g")


def test_the_sheet_of_13_digits_with_a_wrong_check_digit_uses_code128(admin, app):
    add_product(app, "4006381333932")
    page = admin.get(f"/admin/labels/sheet?product={product_id(app, 'KOPI-01')}").get_data(as_text=True)
    assert 'data-symbology="CODE128"' in page and "<svg" in page and "Kopi Tubruk" in page
    assert "Rp 15.000" in page and "<?xml" not in page


def test_the_sheet_of_a_product_without_an_ean13_uses_code128(admin, app):
    add_product(app, "12345678")
    page = admin.get(f"/admin/labels/sheet?product={product_id(app, 'KOPI-01')}").get_data(as_text=True)
    assert 'data-symbology="CODE128"' in page and "<svg" in page


def test_printing_labels_without_a_printer_is_refused_in_indonesian(admin, app):
    response = admin.post("/admin/labels/print", data={"product": product_id(app, "SKU0001")}, follow_redirects=True)
    assert "Printer struk dimatikan" in response.get_data(as_text=True)


def test_the_label_page_lists_products_to_choose(admin):
    assert "Indomie Goreng 85 g" in admin.get("/admin/labels").get_data(as_text=True)


def test_the_sheet_svg_has_no_style_attributes_the_csp_would_refuse(admin, app):
    page = admin.get(f"/admin/labels/sheet?product={product_id(app, 'SKU0001')}").get_data(as_text=True)
    assert "<svg" in page and "style=" not in page and 'fill="white"' in page
