"""Session revocation and the login lockout as staff see them, in Debian's Chromium, screenshotted."""
import pytest

from kasir.extensions import db
from kasir.models import User
from support.config import CASHIER

pytestmark = pytest.mark.browser


def test_the_admin_logs_a_cashier_out_of_every_device(browser, admin_page, served_app, app, screenshots):
    till = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID").new_page()
    till.goto(f"{served_app}/login")
    till.fill("#pin", CASHIER[1])
    till.click("form.pin-form button[type=submit]")
    till.wait_for_url("**/pos/register")
    with app.app_context():
        cashier_id = db.session.scalar(db.select(User.id).where(User.username == CASHIER[0]))
    admin_page.goto(f"{served_app}/admin/users/{cashier_id}")
    admin_page.click("text=Keluar dari semua perangkat")
    admin_page.wait_for_selector("text=telah dikeluarkan dari semua perangkat")
    admin_page.screenshot(path=screenshots / "admin-user-sessions-ended.png", full_page=True)
    till.goto(f"{served_app}/pos")
    assert "/login" in till.url
    till.context.close()


def test_a_locked_login_says_so_in_indonesian(browser, served_app, screenshots):
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID").new_page()
    for _ in range(5):
        page.goto(f"{served_app}/login")
        page.fill("#username", "owner")
        page.fill("#password", "bukan-sandinya")
        page.press("#password", "Enter")
        page.wait_for_load_state()
    assert "Coba lagi dalam 1 menit" in page.text_content("[role=alert]")
    page.screenshot(path=screenshots / "login-locked.png")
    page.context.close()


def test_a_user_logs_out_of_every_device_from_the_password_page(admin_page, served_app, screenshots):
    admin_page.goto(f"{served_app}/account/password")
    admin_page.screenshot(path=screenshots / "account-sessions.png", full_page=True)
    admin_page.click("text=Keluar dari semua perangkat")
    admin_page.wait_for_selector("text=Anda telah keluar dari semua perangkat")
    assert admin_page.url.endswith("/login")
