"""Admin stock pages: adjustments with a reason (audited, in the ledger), thresholds, Stok Menipis, CSV."""
import csv
import io

import pytest

from kasir.extensions import db
from kasir.models import AuditLog, Product, StockMovement
from support.config import ADMIN

# SKU0001 Indomie Goreng (stock 120), SKU0006 Aqua 600 ml (stock 96)


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def product(app, sku):
    with app.app_context():
        found = db.session.scalar(db.select(Product).where(Product.sku == sku))
        db.session.expunge(found)
        return found


def url(app, sku):
    return f"/admin/stock/{product(app, sku).id}"


def adjust(admin, app, sku, kind, quantity, reason="Kiriman distributor"):
    return admin.post(url(app, sku), data={"action": "adjust", "kind": kind, "quantity": quantity, "reason": reason})


def test_received_goods_add_to_stock_and_are_audited(admin, app):
    assert adjust(admin, app, "SKU0001", "RECEIVED", "24").status_code == 302
    assert product(app, "SKU0001").stock == 144
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "StockAdjust"))
        assert entry.actor == ADMIN[0] and "kind=RECEIVED" in entry.detail


def test_waste_takes_away_from_stock(admin, app):
    adjust(admin, app, "SKU0001", "WASTE", "5", "Kemasan sobek")
    assert product(app, "SKU0001").stock == 115


def test_a_count_sets_the_stock_and_the_ledger_keeps_the_difference(admin, app):
    adjust(admin, app, "SKU0001", "COUNT", "100", "Stok opname bulanan")
    assert product(app, "SKU0001").stock == 100
    with app.app_context():
        assert db.session.scalar(db.select(StockMovement.change)) == -20


def test_an_adjustment_without_a_reason_is_refused_in_indonesian_and_nothing_changes(admin, app):
    response = adjust(admin, app, "SKU0001", "RECEIVED", "24", "")
    assert response.status_code == 400 and "Alasan wajib diisi" in response.get_data(as_text=True)
    assert product(app, "SKU0001").stock == 120


def test_a_negative_quantity_is_refused(admin, app):
    response = adjust(admin, app, "SKU0001", "RECEIVED", "-4")
    assert response.status_code == 400 and "bilangan bulat" in response.get_data(as_text=True)
    assert product(app, "SKU0001").stock == 120


def test_a_product_at_its_threshold_is_on_the_low_stock_list(admin, app):
    admin.post(url(app, "SKU0006"), data={"action": "threshold", "low_stock_threshold": "96"})
    page = admin.get("/admin/stock/low").get_data(as_text=True)
    assert 'data-low-stock="SKU0006"' in page and 'data-low-stock="SKU0001"' not in page


def test_a_product_above_its_threshold_is_not_on_the_low_stock_list(admin, app):
    admin.post(url(app, "SKU0006"), data={"action": "threshold", "low_stock_threshold": "95"})
    assert 'data-low-stock="SKU0006"' not in admin.get("/admin/stock/low").get_data(as_text=True)


def test_the_stock_ledger_downloads_as_csv(admin, app):
    adjust(admin, app, "SKU0001", "RECEIVED", "24", "=Kiriman")
    response = admin.get("/admin/stock/movements.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["waktu_wib", "sku", "nama", "jenis", "perubahan", "stok_akhir", "alasan", "oleh"]
    assert rows[1][1:] == ["SKU0001", "Indomie Goreng 85 g", "RECEIVED", "24", "144", "'=Kiriman", ADMIN[0]]


def test_stock_pages_need_an_admin(client, app):
    assert client.get("/admin/stock/low").status_code in (302, 401, 403)
