"""The receipt preview in Debian's Chromium: 58 and 80 mm layouts with the print button, for the screenshots."""
import pytest

from support.browser import open_cashier_page, pay_cash

pytestmark = [pytest.mark.browser, pytest.mark.live]


def test_receipt_preview_at_58_and_80_mm(browser, live_server, screenshots):
    page = open_cashier_page(browser, live_server.url, {"width": 900, "height": 1000})
    for code in ("SKU0001", "SKU0006"):
        page.fill("#scan", code)
        page.press("#scan", "Enter")
        page.wait_for_selector(f".cart-line[data-item='{code}']")
    page.wait_for_function("document.querySelector('[data-cart-total]').textContent === 'Rp 7.500'")
    pay_cash(page, "20.000")
    receipt_path = page.get_attribute("#modal a[href^='/receipts/']", "href")

    for width, columns in ((58, 32), (80, 48)):
        page.goto(f"{live_server.url}{receipt_path}?width={width}")
        lines = page.locator(".receipt-line").all_text_contents()
        assert any(line.startswith("TOTAL") and line.endswith("Rp 7.500") for line in lines)
        assert max(len(line) for line in lines) <= columns
        assert page.locator("button", has_text="Cetak Struk").is_visible()
        page.screenshot(path=screenshots / f"receipt-{width}mm.png", full_page=True)
    page.context.close()
