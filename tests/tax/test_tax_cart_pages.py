"""The cart and the customer display with tax on show service, DPP, PPN and PBJT before the total."""
import pytest

from kasir.extensions import db
from kasir.settings import set_tax_settings
from kasir.tax import TaxSettings


@pytest.fixture
def pos(auth, htmx):
    auth.login_cashier()
    return htmx


def turn_on(app, rule):
    with app.app_context():
        set_tax_settings(rule)
        db.session.commit()


def test_the_cart_shows_dpp_ppn_and_the_total_with_tax(app, pos):
    turn_on(app, TaxSettings(enabled=True, prices_include_tax=False))
    page = pos.post("/pos/cart/scan", data={"q": "SKU0006"}).get_data(as_text=True)  # 4.000: DPP 3.667, PPN 440
    assert "<span>DPP</span><span>Rp 3.667</span>" in page
    assert "<span>PPN</span><span>Rp 440</span>" in page
    assert "Rp 4.440</output>" in page


def test_a_cafe_cart_shows_service_and_pbjt(app, pos):
    turn_on(app, TaxSettings(enabled=True, ppn_bp=0, pbjt_bp=1_000, service_bp=500, prices_include_tax=False))
    page = pos.post("/pos/cart/scan", data={"q": "SKU0006"}).get_data(as_text=True)
    assert "<span>Biaya layanan</span><span>Rp 200</span>" in page and "<span>PBJT</span><span>Rp 420</span>" in page
    assert "DPP" not in page


def test_the_cart_without_tax_shows_no_tax_rows(app, pos):
    page = pos.post("/pos/cart/scan", data={"q": "SKU0006"}).get_data(as_text=True)
    assert "PPN" not in page and "data-cart-dpp" not in page


def test_the_customer_display_shows_the_ppn(app, pos, client):
    turn_on(app, TaxSettings(enabled=True, prices_include_tax=False))
    pos.post("/pos/cart/scan", data={"q": "SKU0006"})
    page = client.get("/display/1/state?v=stale").get_data(as_text=True)
    assert "<span>PPN</span><span>Rp 440</span>" in page and "Rp 4.440" in page
