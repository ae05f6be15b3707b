"""Driving Chromium through Playwright: the cashier's till, the customer display, the QRIS simulator."""
import os

CHROMIUM = os.environ.get("KASIR_CHROMIUM", "/usr/bin/chromium")
NEW_ADMIN_PASSWORD = "toko-aman-2026"


def open_cashier_page(browser, base_url: str, viewport: dict | None = None, pin: str = "1234"):
    """A new browser context logged in as the demo cashier (or the one with `pin`) on register 1, at /pos."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("#pin", pin)
    page.click("form.pin-form button[type=submit]")
    page.wait_for_url("**/pos/register")
    page.click("button[value='1']")
    page.wait_for_url("**/pos")
    return page


def open_cashier(browser, server):
    return open_cashier_page(browser, server.url)


def open_display(browser, server):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{server.url}/display/1")
    return page


def open_simulator(browser, server):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{server.url}/login")
    page.fill("#username", "admin")
    page.fill("#password", getattr(server, "current_admin_password", server.admin_password))
    page.click("text=Masuk sebagai Admin")
    if "/account/password" in page.url:
        page.fill("#current_password", server.admin_password)
        page.fill("#new_password", NEW_ADMIN_PASSWORD)
        page.fill("#repeat_password", NEW_ADMIN_PASSWORD)
        page.click("button[type=submit]")
        server.current_admin_password = NEW_ADMIN_PASSWORD
    page.goto(f"{server.url}/simulator")
    return page


def fill_cart_and_press_qris(page):
    for code in ("SKU0001", "SKU0006"):
        page.fill("#scan", code)
        page.press("#scan", "Enter")
        page.wait_for_selector(f".cart-line[data-item='{code}']")
    page.wait_for_selector(".product-tile >> nth=30")  # the grid reset after the scan has landed too
    page.keyboard.press("F8")
    page.wait_for_selector("#qris-status[data-status='PENDING']")
    return page.get_attribute("#qris-status", "data-payment")


def qr_path(page, selector):
    return page.eval_on_selector(f"{selector} svg path", "el => el.getAttribute('d')")


def scan(page, code):
    """Type a code into the till's scan field and press Enter, as a barcode scanner does."""
    page.fill("#scan", code)
    page.press("#scan", "Enter")


def pay_cash(page, tendered: str):
    """F4, the amount the customer hands over, Enter: the till shows the change."""
    page.keyboard.press("F4")
    page.wait_for_selector("[data-cash-form]")
    page.fill("#tendered", tendered)
    page.press("#tendered", "Enter")
    page.wait_for_selector("[data-change]")
