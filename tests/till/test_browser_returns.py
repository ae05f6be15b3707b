""""Retur" in Debian's Chromium: a cash sale, then one item taken back from today's sales with a supervisor's PIN."""
import pytest

from support.browser import open_cashier_page, pay_cash, scan

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture
def cashier_page(browser, live_server):
    page = open_cashier_page(browser, live_server.url, {"width": 1366, "height": 768})
    yield page
    page.context.close()


def test_a_cashier_returns_one_item_with_a_supervisors_pin(cashier_page, live_server, screenshots):
    page = cashier_page
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    pay_cash(page, "20.000")
    page.goto(f"{live_server.url}/pos/sales")
    page.click("button:has-text('Retur') >> nth=0")
    page.wait_for_selector("[data-return-item='SKU0006']")
    page.fill("[data-return-item='SKU0006'] input", "1")
    page.screenshot(path=screenshots / "till-return.png")
    page.click("button:has-text('Catat Retur')")
    page.wait_for_selector("[data-approval-form]")
    page.fill("#approver-secret", live_server.admin_password)
    page.click("[data-approval-form] button[type=submit]")
    page.wait_for_selector("text=Kembalikan tunai")
    page.screenshot(path=screenshots / "till-return-done.png")


def test_a_scanned_receipt_number_opens_its_return(cashier_page, live_server, screenshots):
    page = cashier_page
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    pay_cash(page, "20.000")
    page.goto(f"{live_server.url}/pos/sales")
    number = page.text_content("table tbody tr td >> nth=0").strip()
    page.fill("#return-number", number)
    page.press("#return-number", "Enter")
    page.wait_for_selector(f"text=Retur {number}")
    page.screenshot(path=screenshots / "till-return-by-number.png")
    page.fill("#return-number", "9-990101-0001")
    page.press("#return-number", "Enter")
    page.wait_for_selector("#toast >> text=tidak ditemukan")
