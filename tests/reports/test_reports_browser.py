"""The back office in Debian's Chromium over the known day: report, shift close and reconciliation, screenshotted."""

import pytest

from kasir.reports import reconcile
from support.days import known_day_settlement, shift_over_known_day

pytestmark = pytest.mark.browser


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
