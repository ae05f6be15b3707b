"""Cashier controls in Debian's Chromium against a real server: a discount over the cashier's limit needs a
supervisor's PIN at the till."""
import pytest
from sqlalchemy import create_engine, text

from support.browser import open_cashier_page

pytestmark = [pytest.mark.browser, pytest.mark.live]


def set_cashier_discount_limit(server, percent: int) -> None:
    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM settings WHERE key = 'discount_limit_percent_cashier'"))
        connection.execute(text("INSERT INTO settings (key, value, encrypted) VALUES "
                                "('discount_limit_percent_cashier', :value, false)"), {"value": str(percent)})
    engine.dispose()


def test_over_limit_discount_is_applied_after_a_supervisor_approves_it(browser, live_server, screenshots):
    set_cashier_discount_limit(live_server, 10)
    page = open_cashier_page(browser, live_server.url, {"width": 1366, "height": 768})
    try:
        page.fill("#scan", "SKU0006")
        page.press("#scan", "Enter")
        page.wait_for_selector(".cart-line[data-item='SKU0006']")
        page.click(".sale-discount summary")
        page.fill(".sale-discount input[name=discount]", "50%")
        page.click(".sale-discount button[type=submit]")

        page.wait_for_selector("[data-approval-form]")
        assert "melebihi batas diskon kasir (10%)" in page.text_content("[data-approval-reason]")
        assert page.text_content("[data-cart-total]") == "Rp 4.000"
        for key in "0000":  # a wrong PIN, on the touch keypad
            page.click(f"[data-keypad-for='approver-secret'] [data-key='{key}']")
        page.click("[data-approval-form] button[type=submit]")
        page.wait_for_selector("[data-approval-error]")
        assert page.text_content("[data-approval-error]") == "PIN atau kata sandi supervisor salah."
        page.fill("#approver-secret", live_server.admin_password)
        page.screenshot(path=screenshots / "pos-supervisor-approval.png")
        sizes = page.eval_on_selector_all(
            ".modal-approval button, .modal-approval input:not([type=hidden]), .modal-approval select",
            "elements => elements.map(e => e.getBoundingClientRect().height)")
        assert min(sizes) >= 48

        page.click("[data-approval-form] button[type=submit]")
        page.wait_for_selector("#modal [data-modal]", state="detached")
        assert page.text_content("[data-cart-total]") == "Rp 2.000"
    finally:
        page.context.close()
