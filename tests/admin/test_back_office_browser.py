"""Shifts at the till, the payments dashboard and the audit log in Debian's Chromium, screenshotted."""
import pytest

from kasir import audit
from kasir.extensions import db
from support.browser import pay_cash
from support.config import CASHIER

pytestmark = pytest.mark.browser


@pytest.fixture
def cashier_page(browser, served_app):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="id-ID")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Tutup shift sekarang?"
    page.goto(f"{served_app}/login")
    page.check(f"input[name=username][value={CASHIER[0]}]")
    page.fill("#pin", CASHIER[1])
    page.click("form.pin-form button[type=submit]")
    page.wait_for_url("**/pos/register")
    page.click("button[value='1']")
    page.wait_for_url("**/pos")
    yield page
    context.close()


def figure(page, name: str) -> str:
    return page.text_content(f"#modal [data-figure={name}] .stat-value")


def test_cashier_opens_sells_and_closes_a_shift_from_the_till(cashier_page, printer, screenshots):
    page = cashier_page
    page.click("#shift-status button")
    page.fill("#opening_cash", "200.000")
    page.screenshot(path=screenshots / "pos-shift-open.png")
    page.click("#modal button[type=submit]")
    page.wait_for_selector("text=Shift Dibuka")
    page.keyboard.press("Enter")
    assert "· Siti" in page.text_content("#shift-status")

    page.fill("#scan", "SKU0001")
    page.press("#scan", "Enter")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    pay_cash(page, "5.000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#modal [data-modal]", state="detached")

    page.click("#shift-status button")
    page.click("text=Lihat Laporan X")
    page.wait_for_selector("text=Laporan X (shift berjalan)")
    assert figure(page, "expected_cash") == "Rp 203.500"
    page.screenshot(path=screenshots / "pos-shift-x.png")
    page.click("#modal >> text=Kembali")
    # htmx focuses the panel's autofocus field once the swap settles: typing before then can land there.
    page.wait_for_selector("#counted_cash:focus")
    page.fill("#counted_cash", "203.000")
    page.fill("#note", "Kembalian kurang 500")
    page.screenshot(path=screenshots / "pos-shift-panel.png")
    page.click("text=Tutup Shift & Cetak Laporan Z")
    page.wait_for_selector("#modal [data-figure=difference]")
    assert (figure(page, "expected_cash"), figure(page, "counted_cash"), figure(page, "difference")) == \
        ("Rp 203.500", "Rp 203.000", "-Rp 500")
    assert "Buka Shift" in page.text_content("#shift-status")
    assert "Laporan Z tersimpan dan dicetak." in page.text_content("#modal")
    assert b"LAPORAN Z" in printer.wait_for_jobs(1)[-1]
    page.screenshot(path=screenshots / "pos-shift-close.png")


def test_payments_dashboard_of_the_last_seven_days(admin_page, served_app, known_dashboard_day, screenshots):
    admin_page.goto(f"{served_app}/admin/dashboard")
    assert admin_page.text_content("[data-figure=week-success-rate] .stat-value") == "66,7%"
    assert admin_page.text_content("[data-figure=week-median-time-to-pay] .stat-value") == "1 mnt 15 dtk"
    assert admin_page.locator("svg.day-chart rect").count() == 7
    admin_page.screenshot(path=screenshots / "back-office-dashboard.png", full_page=True)


def test_audit_log_filtered_by_action_never_shows_a_secret(admin_page, served_app, known_day, screenshots):
    audit.record("SaveConfig", "payments", actor="owner", detail="provider=midtrans server_key=SB-Mid-server-Rahasia99")
    db.session.commit()
    admin_page.goto(f"{served_app}/admin/audit")
    assert "SB-Mid-server-Rahasia99" not in admin_page.content()
    admin_page.select_option("select[name=action]", "GenerateQR")
    admin_page.click("text=Tampilkan")
    admin_page.wait_for_url("**action=GenerateQR**")
    assert admin_page.locator("tr[data-audit]").count() == 5
    admin_page.goto(f"{served_app}/admin/audit")
    admin_page.screenshot(path=screenshots / "back-office-audit.png", full_page=True)
