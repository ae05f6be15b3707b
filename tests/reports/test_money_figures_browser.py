"""The money rule's day (tests/reports/test_money_figures.py) in Debian's Chromium: report, shift and reconciliation."""
import pytest

from kasir.reports import reconcile
from support.days import settlement_file

pytestmark = pytest.mark.browser


def figure(page, name: str) -> str:
    return page.locator(f"[data-figure={name}] td.num").last.text_content()


def test_report_shift_and_reconciliation_of_the_money_day(admin_page, served_app, money_day, screenshots):
    admin_page.goto(f"{served_app}/admin/reports?from={money_day.day}")
    assert figure(admin_page, "qris_received") == "Rp 46.700"
    assert figure(admin_page, "qris_for_sales") == "Rp 12.500"
    assert figure(admin_page, "overpayments") == "Rp 6.700"
    assert admin_page.locator("[data-table=short_sales] tbody tr").count() == 1
    admin_page.screenshot(path=screenshots / "money-day-report.png", full_page=True)

    admin_page.goto(f"{served_app}/admin/shifts/{money_day.shift.id}")
    assert admin_page.locator("[data-figure=expected_cash] .stat-value").text_content() == "Rp 119.700"
    assert admin_page.locator("[data-overpayment]").count() == 2
    admin_page.screenshot(path=screenshots / "money-day-shift.png", full_page=True)

    reconcile.reconcile(money_day.day, reconcile.parse_csv(settlement_file(money_day)), "midtrans.csv")
    admin_page.goto(f"{served_app}/admin/reconciliation?date={money_day.day}&source=midtrans.csv")
    assert admin_page.locator("[data-group=sale_mismatch] tbody tr").count() == 3
    assert admin_page.locator("[data-group=matched] tbody tr").count() == 3
    admin_page.screenshot(path=screenshots / "money-day-reconciliation.png", full_page=True)

    admin_page.goto(f"{served_app}/admin/dashboard")
    assert admin_page.locator("[data-section=money-to-check] tbody tr").count() == 3
    admin_page.screenshot(path=screenshots / "money-day-dashboard.png", full_page=True)
