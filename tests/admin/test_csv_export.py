"""The one CSV writer (kasir/csv_export.py) neutralises spreadsheet formulas in every export (issue 21 #5)."""
import csv
import io

import pytest

from kasir.csv_export import csv_lines
from kasir.extensions import db
from kasir.models import Product

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"klik\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


def read(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines).lstrip("\ufeff"))))


@pytest.mark.parametrize("formula", FORMULAS)
def test_a_text_cell_that_a_spreadsheet_would_run_gets_a_leading_quote(formula):
    [_, row] = read(csv_lines(["name"], [[formula]]))
    assert row == ["'" + formula]


def test_numbers_stay_numbers_and_plain_text_stays_as_it_is():
    [_, row] = read(csv_lines(["a", "b", "c", "d", "e"], [[15000, -2500, "Kopi - Susu", "ya", None]]))
    assert row == ["15000", "-2500", "Kopi - Susu", "ya", ""]


def test_a_failed_logins_username_reaches_the_audit_csv_as_text(client, auth):
    client.post("/login", data={"mode": "password", "username": "=cmd|'/c calc'!A1", "password": "x"})
    auth.login_admin()
    rows = read(client.get("/admin/audit/export.csv").get_data(as_text=True))
    cells = {cell for row in rows for cell in row if "calc" in cell}  # the actor and target columns
    assert cells == {"'=cmd|'/c calc'!A1"}


def test_a_product_name_with_a_formula_is_exported_as_text_and_imported_back_unchanged(client, auth, app):
    with app.app_context():
        db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).name = "=1+1 Promo"
        db.session.commit()
    auth.login_admin()
    exported = client.get("/admin/products/export.csv").get_data()
    assert b"'=1+1 Promo" in exported
    response = client.post("/admin/products/import", data={"file": (io.BytesIO(exported), "produk.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(Product.name).where(Product.sku == "SKU0001")) == "=1+1 Promo"
