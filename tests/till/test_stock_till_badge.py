"""The till's product tile shows "Stok Menipis" when the product is at or below its threshold."""
import pytest

from kasir.extensions import db
from kasir.models import Product

# SKU0006 Aqua 600 ml (stock 96)


@pytest.fixture
def pos(auth, htmx):
    auth.login_cashier()
    return htmx


def set_threshold(app, sku, threshold):
    with app.app_context():
        db.session.scalar(db.select(Product).where(Product.sku == sku)).low_stock_threshold = threshold
        db.session.commit()


def aqua_tile(pos):
    return pos.get("/pos/products?q=Aqua").get_data(as_text=True)


def test_a_tile_at_its_threshold_shows_the_low_stock_badge(pos, app):
    set_threshold(app, "SKU0006", 96)
    assert "Stok Menipis" in aqua_tile(pos)


def test_a_tile_above_its_threshold_shows_no_badge(pos, app):
    set_threshold(app, "SKU0006", 95)
    assert "Stok Menipis" not in aqua_tile(pos)


def test_a_product_without_a_threshold_shows_no_badge(pos, app):
    assert "Stok Menipis" not in aqua_tile(pos)
