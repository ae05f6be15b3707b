"""The cashier screen with tax on, in Debian's Chromium: the cart shows DPP and PPN and the total with tax."""
import pytest

from kasir.extensions import db
from kasir.settings import set_tax_settings
from kasir.tax import TaxSettings
from support.browser import scan
from support.config import CASHIER

pytestmark = [pytest.mark.browser]


def test_the_till_shows_dpp_ppn_and_the_total_with_tax(app, browser, served_app, screenshots):
    with app.app_context():
        set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False, service_bp=500))
        db.session.commit()
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="id-ID").new_page()
    page.goto(f"{served_app}/login")
    page.fill("#pin", CASHIER[1])
    page.click("form.pin-form button[type=submit]")
    page.wait_for_url("**/pos/register")
    page.click("button[value='1']")
    page.wait_for_url("**/pos")
    scan(page, "SKU0001")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    # 7.500 + service 375 = 7.875 taxed: DPP 7.219, PPN 866
    assert page.text_content("[data-cart-dpp] span:last-child") == "Rp 7.219"
    assert page.text_content("[data-cart-total]") == "Rp 8.741"
    page.screenshot(path=screenshots / "tax-till.png")
    page.context.close()
