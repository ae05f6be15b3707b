"""The back office in Debian's Chromium over the known day: report, shift close and reconciliation, screenshotted."""
import threading

import pytest
from werkzeug.serving import make_server

from conftest import ADMIN
from kasir.reports import reconcile
from test_reconciliation_page import known_day_settlement
from test_shifts import shift_over_known_day

pytestmark = pytest.mark.browser


@pytest.fixture
def served_app(app):
    """The test's app (and its database) on a loopback port, so the browser sees the known day."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def admin_page(browser, served_app):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = context.new_page()
    page.goto(f"{served_app}/login")
    page.fill("#username", ADMIN[0])
    page.fill("#password", ADMIN[1])
    page.press("#password", "Enter")
    page.wait_for_url(f"{served_app}/admin**")
    yield page
    context.close()


def test_sales_report_of_the_known_day(admin_page, served_app, known_day, screenshots):
    reconcile.reconcile(known_day.day, reconcile.parse_csv(known_day_settlement(known_day)), "midtrans.csv")
    admin_page.goto(f"{served_app}/admin/reports?from={known_day.day}")
    assert admin_page.locator("[data-figure=gross_total] .stat-value").text_content() == "Rp 38.200"
    assert admin_page.locator("svg.hour-chart rect").count() == 24
    admin_page.screenshot(path=screenshots / "back-office-report.png", full_page=True)


def test_shift_close_shows_the_difference(admin_page, served_app, known_day, screenshots):
    shift = shift_over_known_day(known_day)
    admin_page.goto(f"{served_app}/admin/shifts/{shift.id}")
    admin_page.fill("#counted_cash", "214.000")
    admin_page.fill("#note", "Kurang 400, uang receh")
    admin_page.click("text=Tutup shift & simpan laporan Z")
    admin_page.wait_for_selector("[data-figure=difference]")
    assert admin_page.locator("[data-figure=difference] .stat-value").text_content() == "-Rp 400"
    admin_page.screenshot(path=screenshots / "back-office-shift-close.png", full_page=True)


def test_reconciliation_page_after_an_upload(admin_page, served_app, known_day, screenshots, tmp_path):
    upload = tmp_path / "midtrans-settlement.csv"
    upload.write_text(known_day_settlement(known_day))
    admin_page.goto(f"{served_app}/admin/reconciliation?date={known_day.day}")
    admin_page.fill("#date", known_day.day.isoformat())
    admin_page.set_input_files("#file", str(upload))
    admin_page.click("text=Jalankan rekonsiliasi")
    admin_page.wait_for_selector("[data-group=missing_in_kasir] td")
    assert admin_page.locator("[data-group=sale_mismatch] tbody tr").count() == 1
    admin_page.screenshot(path=screenshots / "back-office-reconciliation.png", full_page=True)
