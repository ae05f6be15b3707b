"""The admin's home page and grouped navigation in Debian's Chromium, screenshotted."""
import pytest

from kasir import tenders

pytestmark = pytest.mark.browser


def test_admin_home_shows_the_day_and_the_grouped_navigation(app, till, admin_page, served_app, screenshots):
    tenders.pay_cash(till.add("SKU0001", "SKU0001", "SKU0006").id, "20.000")
    page = admin_page
    page.goto(f"{served_app}/admin")
    assert page.text_content("[data-section=top-products]").count("Indomie Goreng") == 1
    assert page.locator(".admin-nav .nav-group-label").all_text_contents() == [
        "Penjualan", "Produk", "Pembayaran", "Laporan", "Pengaturan"]
    assert page.text_content(".admin-nav a.active") == "Beranda"
    page.screenshot(path=screenshots / "catalogue-admin-home.png", full_page=True)
