"""The cashier screen in Debian's Chromium against a real server: scan, pay cash, see the change."""
import pytest

from support.browser import open_cashier_page, scan

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def cashier_page(browser, live_server):
    page = open_cashier_page(browser, live_server.url, {"width": 1366, "height": 768})
    yield page
    page.context.close()


def test_cashier_scans_two_products_and_pays_cash(cashier_page, screenshots):
    page = cashier_page
    scan(page, "SKU0001")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    assert page.text_content("[data-cart-total]") == "Rp 7.500"
    assert page.evaluate("document.activeElement.id") == "scan"
    page.screenshot(path=screenshots / "pos-cart.png")

    page.keyboard.press("F4")
    page.wait_for_selector("[data-cash-form]")
    page.fill("#tendered", "20.000")
    page.screenshot(path=screenshots / "pos-cash-tender.png")
    page.press("#tendered", "Enter")
    page.wait_for_selector("[data-change]")
    assert page.text_content("[data-change]") == "Rp 12.500"
    page.screenshot(path=screenshots / "pos-change.png")

    page.keyboard.press("Enter")
    page.wait_for_selector("#modal [data-modal]", state="detached")
    assert page.text_content("[data-cart-total]") == "Rp 0"


def test_a_quick_tender_pays_the_exact_total(cashier_page):
    page = cashier_page
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    page.keyboard.press("F4")
    page.click(".btn-tender:has-text('Uang Pas')")
    page.wait_for_selector("[data-change]")
    assert page.text_content("[data-change]") == "Rp 0"


def test_product_grid_shows_everything_again_after_a_scan(cashier_page):
    page = cashier_page
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    page.wait_for_selector(".product-tile >> nth=30")


def test_grid_comes_back_after_a_search_is_added_with_enter(cashier_page):
    # The cashier types, sees the grid narrow to the product, then presses Enter. The search's answer must land
    # inside #products, not replace it: the reset after the scan (and every later search) needs #products.
    page = cashier_page
    page.fill("#scan", "SKU0010")
    page.wait_for_selector(".product-tile >> nth=1", state="detached")  # the search has narrowed the grid
    page.press("#scan", "Enter")
    page.wait_for_selector(".cart-line[data-item='SKU0010']")
    page.wait_for_selector("#products .product-tile >> nth=30")
    page.fill("#scan", "SKU0001")  # and the next search still reaches the grid
    page.wait_for_selector("#products .product-tile >> nth=1", state="detached")
    page.wait_for_selector("#products .product-tile")
