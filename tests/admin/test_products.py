"""Admin product catalogue: create, validate, edit, deactivate, CSV import (all or nothing) and export."""
import io

import pytest

from kasir.extensions import db
from kasir.models import AuditLog, Product

# The seeded catalogue (kasir.demo.CATALOGUE): SKU0001 Indomie Goreng 3.500, barcode 8990000000015.

GOOD = {"sku": "KOPI-01", "barcode": "8991234567895", "name": "Kopi Tubruk 200 g", "category": "Minuman",
        "price": "15.000", "stock": "10", "active": "1"}
HEADER = "sku,barcode,name,category,price,stock,active\n"


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def product(app, sku):
    with app.app_context():
        found = db.session.scalar(db.select(Product).where(Product.sku == sku))
        if found is not None:
            db.session.expunge(found)
        return found


def product_count(app):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Product.id)))


def barcode_of(app, sku):
    return product(app, sku).barcode


def upload(client, text, *, filename="produk.csv", raw=None):
    body = raw if raw is not None else text.encode("utf-8")
    return client.post("/admin/products/import", data={"file": (io.BytesIO(body), filename)},
                       content_type="multipart/form-data")


# --- create, validate, edit ---------------------------------------------------------------------------

def test_admin_creates_a_product_with_an_indonesian_price(admin, app):
    response = admin.post("/admin/products/new", data=GOOD)
    assert response.status_code == 302
    created = product(app, "KOPI-01")
    assert (created.name, created.price, created.stock, created.active) == ("Kopi Tubruk 200 g", 15000, 10, True)


@pytest.mark.parametrize("field, value, message", [
    ("price", "15.000,5", "tanpa sen"),
    ("price", "-5000", "tidak boleh negatif"),
    ("name", "", "Nama produk wajib diisi"),
    ("barcode", "89912ABC", "Barcode harus 6–20 angka"),
])
def test_invalid_product_field_is_refused_in_indonesian_and_nothing_is_saved(admin, app, field, value, message):
    before = product_count(app)
    response = admin.post("/admin/products/new", data={**GOOD, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert product_count(app) == before


def test_duplicate_sku_is_refused_and_names_the_owner(admin, app):
    before = product_count(app)
    response = admin.post("/admin/products/new", data={**GOOD, "sku": "SKU0001"})
    assert response.status_code == 422
    assert "SKU SKU0001 sudah dipakai Indomie Goreng 85 g" in response.get_data(as_text=True)
    assert product_count(app) == before


def test_duplicate_barcode_is_refused_and_names_the_owner(admin, app):
    before = product_count(app)
    response = admin.post("/admin/products/new", data={**GOOD, "barcode": barcode_of(app, "SKU0001")})
    assert response.status_code == 422
    assert "sudah dipakai Indomie Goreng 85 g" in response.get_data(as_text=True)
    assert product_count(app) == before


def test_refused_form_keeps_what_the_admin_typed(admin):
    response = admin.post("/admin/products/new", data={**GOOD, "price": "15.000,5"})
    assert 'value="Kopi Tubruk 200 g"' in response.get_data(as_text=True)


def test_price_change_writes_a_price_change_audit_row(admin, app):
    indomie = product(app, "SKU0001")
    response = admin.post(f"/admin/products/{indomie.id}", data={
        "sku": "SKU0001", "barcode": indomie.barcode, "name": indomie.name, "category": indomie.category,
        "price": "Rp 4.000", "stock": str(indomie.stock), "active": "1"})
    assert response.status_code == 302
    assert product(app, "SKU0001").price == 4000
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "PriceChange"))
        assert (entry.target, entry.detail, entry.actor) == ("SKU0001", "3.500 -> 4.000", "owner")


def test_edit_without_price_change_writes_no_price_change_row(admin, app):
    indomie = product(app, "SKU0001")
    admin.post(f"/admin/products/{indomie.id}", data={
        "sku": "SKU0001", "barcode": indomie.barcode, "name": "Indomie Goreng Original", "category": indomie.category,
        "price": "3.500", "stock": str(indomie.stock), "active": "1"})
    assert product(app, "SKU0001").name == "Indomie Goreng Original"
    with app.app_context():
        assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "PriceChange")) is None


def test_deactivated_product_disappears_from_the_cashier_grid_and_cannot_be_scanned(app, auth, client):
    indomie = product(app, "SKU0001")
    auth.login_admin()
    response = client.post(f"/admin/products/{indomie.id}", data={
        "sku": "SKU0001", "barcode": indomie.barcode, "name": indomie.name, "category": indomie.category,
        "price": "3.500", "stock": str(indomie.stock), "active": "0"})
    assert response.status_code == 302
    auth.logout()
    auth.login_cashier()
    grid = client.get("/pos/products", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Indomie Goreng 85 g" not in grid
    assert "Indomie Soto Mie" in grid
    scanned = client.post("/pos/cart/scan", data={"q": indomie.barcode}, headers={"HX-Request": "true"})
    assert scanned.status_code == 422
    assert scanned.headers["HX-Retarget"] == "#toast"


# --- CSV import ---------------------------------------------------------------------------------------

def test_csv_import_creates_new_products_and_updates_existing_ones_by_sku(admin, app):
    before = product_count(app)
    response = upload(admin, HEADER
                      + 'KOPI-01,8991234567895,Kopi Tubruk 200 g,Minuman,15.000,10,ya\n'
                      + 'SKU0001,,"Indomie Goreng, Jumbo",Makanan Instan,4000,50,1\n')
    assert response.status_code == 302
    flashed = admin.get("/admin/products").get_data(as_text=True)
    assert "1 produk baru, 1 diperbarui" in flashed
    assert product_count(app) == before + 1
    assert product(app, "KOPI-01").price == 15000
    updated = product(app, "SKU0001")
    assert (updated.name, updated.price, updated.stock, updated.barcode) == ("Indomie Goreng, Jumbo", 4000, 50, None)


def test_csv_without_optional_columns_keeps_the_other_fields_of_existing_products(admin, app):
    with app.app_context():
        db.session.scalar(db.select(Product).where(Product.sku == "SKU0002")).active = False
        db.session.commit()
    before = product(app, "SKU0001")
    response = upload(admin, "sku,name,price\nSKU0001,Indomie Goreng 85 g,4.000\nSKU0002,Indomie Soto Mie 75 g,3.600\n")
    assert response.status_code == 302
    after = product(app, "SKU0001")
    assert after.price == 4000
    assert (after.barcode, after.stock, after.category, after.active) == (before.barcode, 120, "Makanan Instan", True)
    assert product(app, "SKU0002").active is False


def test_csv_import_with_one_bad_row_imports_nothing_and_lists_errors_by_line(admin, app):
    before = product_count(app)
    response = upload(admin, HEADER
                      + "BARU-1,,Produk Satu,,1000,1,1\n"
                      + "BARU-2,,Produk Dua,,15.000,5,1\n"
                      + "SKU0001,,Indomie Mahal,,99.000,1,1\n"
                      + "BARU-3,,,,2000,1,1\n")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tidak ada yang diimpor" in body
    assert "Baris 5:" in body and "Nama produk wajib diisi" in body
    assert "Baris 2:" not in body
    assert product_count(app) == before
    assert product(app, "BARU-1") is None
    assert product(app, "SKU0001").price == 3500


def test_csv_import_reports_every_bad_row(admin):
    response = upload(admin, HEADER + "A-1,,Satu,,lima ribu,5,1\nA-2,,Dua,,12,5x,1\n")
    body = response.get_data(as_text=True)
    assert "Baris 2:" in body and "Harga" in body
    assert "Baris 3:" in body and "Stok harus bilangan bulat" in body


def test_semicolon_delimited_csv_from_an_indonesian_spreadsheet_is_read(admin, app):
    response = upload(admin, "sku;barcode;name;category;price;stock;active\r\n"
                             "TEH-01;;Teh Celup isi 25;Minuman;7.500;12;ya\r\n")
    assert response.status_code == 302
    assert product(app, "TEH-01").price == 7500


def test_csv_with_the_same_sku_twice_is_refused(admin, app):
    response = upload(admin, HEADER + "DUP-1,,Satu,,1000,1,1\nDUP-1,,Dua,,2000,1,1\n")
    assert response.status_code == 422
    assert "Baris 3: SKU DUP-1 sama dengan baris 2" in response.get_data(as_text=True)
    assert product(app, "DUP-1") is None


def test_csv_with_the_same_barcode_twice_is_refused(admin, app):
    response = upload(admin, HEADER + "B-1,1234567,Satu,,1000,1,1\nB-2,1234567,Dua,,2000,1,1\n")
    assert response.status_code == 422
    assert "BARCODE 1234567 sama dengan baris 2" in response.get_data(as_text=True)


def test_csv_barcode_owned_by_another_product_is_refused(admin, app):
    taken = barcode_of(app, "SKU0001")
    response = upload(admin, HEADER + f"BARU-1,{taken},Mi Lain,,1000,1,1\n")
    assert response.status_code == 422
    assert f"Baris 2: Barcode {taken} sudah dipakai produk SKU SKU0001" in response.get_data(as_text=True)
    assert product(app, "BARU-1") is None


def test_csv_may_move_a_barcode_between_products_in_the_same_file(admin, app):
    taken = barcode_of(app, "SKU0001")
    response = upload(admin, HEADER + f"SKU0001,,Indomie Goreng 85 g,,3500,1,1\nBARU-1,{taken},Mi Lain,,1000,1,1\n")
    assert response.status_code == 302
    assert product(app, "SKU0001").barcode is None
    assert product(app, "BARU-1").barcode == taken


def test_csv_with_too_many_rows_is_refused(admin, app):
    app.config["CSV_IMPORT_MAX_ROWS"] = 3
    rows = "".join(f"MANY-{n},,Produk {n},,1000,1,1\n" for n in range(5))
    response = upload(admin, HEADER + rows)
    assert response.status_code == 422
    assert "Terlalu banyak baris (maks. 3)" in response.get_data(as_text=True)
    assert product(app, "MANY-0") is None


def test_too_many_bad_rows_also_count_towards_the_row_limit(admin, app):
    app.config["CSV_IMPORT_MAX_ROWS"] = 3
    rows = "".join(f"MANY-{n},,,,1000,1,1\n" for n in range(5))
    response = upload(admin, HEADER + rows)
    assert "Terlalu banyak baris (maks. 3)" in response.get_data(as_text=True)


def test_upload_over_the_size_limit_gets_a_readable_413_page(admin, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = upload(admin, HEADER + "X-1,,Produk,,1000,1,1\n" * 200)
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert "Berkas atau data terlalu besar." in body
    assert "<html" in body.lower()


def test_windows_1252_csv_from_excel_is_read(admin, app):
    # Excel's plain "CSV" on an Indonesian Windows: cp1252 text, ';' between columns, CRLF lines.
    excel = ("sku;barcode;name;category;price;stock;active\r\n"
             "KUE-1;;Kue Bolu Pandan – Café;Kue;12.500;4;ya\r\n").encode("cp1252")
    response = upload(admin, "", raw=excel)
    assert response.status_code == 302
    created = product(app, "KUE-1")
    assert (created.name, created.price, created.stock) == ("Kue Bolu Pandan – Café", 12500, 4)


def test_utf8_csv_with_a_byte_order_mark_is_read(admin, app):
    response = upload(admin, "", raw=("\ufeff" + HEADER + "KUE-2,,Kue Lapis Légit,,30000,2,1\n").encode("utf-8"))
    assert response.status_code == 302
    assert product(app, "KUE-2").name == "Kue Lapis Légit"


def test_csv_with_old_mac_line_endings_is_read(admin, app):
    response = upload(admin, HEADER.rstrip("\n") + "\rKUE-3,,Kue Putu,,2000,4,1\r")
    assert response.status_code == 302
    assert product(app, "KUE-3").price == 2000


def test_csv_with_a_line_break_inside_an_unquoted_field_reads_it_as_two_lines(admin, app):
    before = product_count(app)
    response = upload(admin, HEADER + "KUE-4,,Kue\rLapis,,1000,1,1\n")
    assert response.status_code == 422
    assert product_count(app) == before


def test_unreadable_csv_bytes_are_refused_with_a_clear_message(admin, app):
    before = product_count(app)
    response = upload(admin, "", raw=HEADER.encode() + b"KUE-1,,Kue \x81\x8d,,1000,1,1\n")
    assert response.status_code == 422
    assert "tidak bisa dibaca sebagai teks" in response.get_data(as_text=True)
    assert product_count(app) == before


# --- stock: staff may not type a negative figure ---------------------------------------------------------

def test_negative_stock_in_the_form_is_refused_in_indonesian(admin, app):
    response = admin.post("/admin/products/new", data={**GOOD, "stock": "-5"})
    assert response.status_code == 422
    assert "Stok tidak boleh negatif" in response.get_data(as_text=True)
    assert product(app, "KOPI-01") is None


def test_negative_stock_in_a_csv_is_refused_and_nothing_is_imported(admin, app):
    before = product_count(app)
    response = upload(admin, HEADER + "KUE-1,,Kue Bolu,,1000,1,1\nKUE-2,,Kue Lapis,,1000,-3,1\n")
    assert response.status_code == 422
    assert "Baris 3: Stok tidak boleh negatif" in response.get_data(as_text=True)
    assert product_count(app) == before


def test_a_stock_that_sales_drove_below_zero_may_be_saved_back_unchanged(admin, app):
    with app.app_context():
        indomie = db.session.scalar(db.select(Product).where(Product.sku == "SKU0001"))
        indomie.stock = -2  # sold before the delivery was counted in
        db.session.commit()
    response = admin.post(f"/admin/products/{product(app, 'SKU0001').id}", data={
        "sku": "SKU0001", "barcode": "8990000000015", "name": "Indomie Goreng", "category": "Makanan Instan",
        "price": "3.600", "stock": "-2", "active": "1"})
    assert response.status_code == 302
    assert (product(app, "SKU0001").price, product(app, "SKU0001").stock) == (3600, -2)


def test_csv_without_required_columns_names_them(admin):
    response = upload(admin, "kode,nama\nA,B\n")
    assert response.status_code == 422
    assert "Kolom wajib tidak ada: sku, name, price" in response.get_data(as_text=True)


def test_import_without_a_file_asks_for_one(admin):
    response = admin.post("/admin/products/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Pilih berkas CSV" in response.get_data(as_text=True)


def test_exported_csv_imports_back_as_updates_only(admin, app):
    before = product_count(app)
    exported = admin.get("/admin/products/export.csv")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    data = exported.get_data()
    assert data.startswith("\ufeffsku,barcode,name,category,price,stock,active".encode())
    response = upload(admin, "", raw=data)
    assert response.status_code == 302
    assert f"0 produk baru, {before} diperbarui" in admin.get("/admin/products").get_data(as_text=True)
    assert product_count(app) == before
    assert product(app, "SKU0001").price == 3500


# --- access -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, url", [
    ("get", "/admin/products"),
    ("get", "/admin/products/new"),
    ("post", "/admin/products/new"),
    ("get", "/admin/products/1"),
    ("post", "/admin/products/1"),
    ("get", "/admin/products/import"),
    ("post", "/admin/products/import"),
    ("get", "/admin/products/export.csv"),
])
def test_cashier_gets_403_on_admin_product_pages(client, auth, app, method, url):
    auth.login_cashier()
    before = product(app, "SKU0001")
    response = getattr(client, method)(url, data={**GOOD, "sku": "SKU0001", "price": "1"} if method == "post" else None)
    assert response.status_code == 403
    assert "Anda tidak punya akses" in response.get_data(as_text=True)
    assert product(app, "SKU0001").price == before.price


def test_bebas_pajak_on_the_product_form_marks_the_product_tax_exempt_and_is_audited(admin, app):
    indomie = product(app, "SKU0001")
    fields = {"sku": "SKU0001", "barcode": indomie.barcode, "name": indomie.name, "category": indomie.category,
              "price": "3.500", "stock": str(indomie.stock), "active": "1"}
    assert "Bebas pajak" in admin.get(f"/admin/products/{indomie.id}").get_data(as_text=True)
    assert admin.post(f"/admin/products/{indomie.id}", data={**fields, "tax_exempt": "1"}).status_code == 302
    assert product(app, "SKU0001").tax_exempt is True
    assert 'name="tax_exempt" value="1" checked' in admin.get(f"/admin/products/{indomie.id}").get_data(as_text=True)
    admin.post(f"/admin/products/{indomie.id}", data=fields)  # the box left unticked clears it
    assert product(app, "SKU0001").tax_exempt is False
    with app.app_context():
        changes = db.session.scalars(db.select(AuditLog).where(AuditLog.action == "TaxExemptChange")
                                     .order_by(AuditLog.id)).all()
        assert [(entry.target, entry.detail) for entry in changes] == [("SKU0001", "0 -> 1"), ("SKU0001", "1 -> 0")]
        saves = db.session.scalars(db.select(AuditLog.detail).where(AuditLog.action == "SaveProduct")
                                   .order_by(AuditLog.id)).all()
        assert saves == ["tax_exempt=1", "tax_exempt=0"]


def test_a_csv_import_keeps_the_tax_exemption_of_existing_products(admin, app):
    with app.app_context():
        db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).tax_exempt = True
        db.session.commit()
    upload(admin, "sku,name,price\nSKU0001,Indomie Goreng,3600\n")
    assert (product(app, "SKU0001").price, product(app, "SKU0001").tax_exempt) == (3_600, True)
