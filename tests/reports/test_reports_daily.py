"""The back-office sales report: every figure of a known day, the hourly chart, the CSV and the admin page."""
import csv
import io

from kasir.clock import business_date
from kasir.reports import daily, reconcile

GENERIC = "provider_trx_id,order_id,amount,fee,net_amount,settlement_date,status\n"


def settle(day, *rows):
    """Import a generic settlement file with (payment, fee) rows."""
    text = GENERIC + "".join(f"{p.provider_trx_id},{p.order_id},{p.amount},{fee},{p.amount - fee},{day},settlement\n"
                             for p, fee in rows)
    return reconcile.reconcile(day, reconcile.parse_csv(text), "settlement.csv")


def test_known_day_report_has_every_figure(known_day):
    settle(known_day.day, (known_day.qris_paid, 60), (known_day.late, 23), (known_day.double, 24))

    report = daily.build_report(known_day.day)

    assert {m: (t.count, t.amount) for m, t in report.by_method.items()} == {
        "CASH": (3, 14_400), "DEBIT": (1, 6_000), "QRIS": (3, 17_800)}
    assert (report.sale_count, report.gross_total, report.average_basket) == (7, 38_200, 5_457)
    assert (report.void_count, report.void_total) == (1, 3_500)
    assert (report.refund_count, report.refund_total, report.net_total) == (1, 6_000, 32_200)
    # Fees of QRIS sales settled so far (the double payment's fee belongs to money to give back, not to sales).
    assert (report.qris_settled_count, report.qris_fee, report.qris_net) == (2, 83, 17_717)
    assert (report.qris_expired_count, report.qris_late_count) == (1, 1)
    # The QR paid after the sale was closed in cash: money no sale took, to refund.
    assert [(over.payment.order_id, over.amount, over.reason) for over in report.overpayments] == [
        (known_day.double.order_id, 3_400, "ganda")]
    assert [(p.sku, p.quantity, p.amount) for p in report.top_products] == [
        ("SKU0004", 2, 12_000), ("SKU0001", 2, 7_000), ("SKU0005", 1, 4_500), ("SKU0006", 1, 4_000),
        ("SKU0007", 1, 4_000), ("SKU0003", 1, 3_400), ("SKU0002", 1, 3_300)]
    assert {hour: amount for hour, amount in enumerate(report.hourly_amounts) if amount} == {
        8: 7_000, 9: 6_000, 10: 12_500, 11: 3_300, 12: 3_400, 13: 6_000}
    assert report.hourly_counts[10] == 2 and sum(report.hourly_counts) == 7


def test_before_any_settlement_the_qris_net_equals_its_takings(known_day):
    report = daily.build_report(known_day.day)
    assert (report.qris_settled_count, report.qris_fee, report.qris_net) == (0, 0, 17_800)


def test_hourly_chart_scales_bars_to_the_busiest_wib_hour(known_day):
    bars = daily.build_report(known_day.day).bars
    assert len(bars) == 24
    busiest = bars[10]
    assert busiest.height == daily.CHART_BASELINE - 10 and busiest.y == 10
    assert bars[8].height == round(7_000 * 130 / 12_500)
    assert bars[14].height == 0  # the voided sale is not on the chart


def test_a_range_adds_up_its_days_and_an_empty_day_reports_zero(known_day):
    today = business_date()
    assert daily.build_report(known_day.day, today).gross_total == 38_200
    empty = daily.build_report(today)
    assert (empty.sale_count, empty.gross_total, empty.average_basket, empty.top_products) == (0, 0, 0, [])
    assert all(bar.height == 0 for bar in empty.bars)


def test_admin_page_shows_the_figures_and_the_svg_chart(client, auth, known_day):
    auth.login_admin()
    page = client.get(f"/admin/reports?from={known_day.day}").get_data(as_text=True)
    assert "Rp 38.200" in page and "Rp 5.457" in page and "Rp 32.200" in page
    assert "Rp 14.400" in page and "Rp 17.800" in page and "Rp 3.500" in page
    assert page.count("<rect ") == 24 and 'data-slot="10"' in page
    assert "Indomie Goreng 85 g" in page


def test_csv_export_streams_every_paid_and_voided_sale(client, auth, known_day):
    auth.login_admin()
    response = client.get(f"/admin/reports/export.csv?from={known_day.day}&to={known_day.day}")
    assert response.mimetype == "text/csv" and response.is_streamed
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 8
    assert [r["total"] for r in rows] == ["7000", "6000", "8500", "4000", "3300", "3400", "6000", "3500"]
    assert rows[0]["lunas"].endswith("08:15:00") and rows[0]["metode"] == "CASH"
    assert (rows[-1]["status"], rows[-1]["alasan_batal"]) == ("VOID", "Salah input")


def test_reports_are_for_admins_only(client, auth):
    auth.login_cashier()
    assert client.get("/admin/reports").status_code in (302, 403)
    assert client.get("/admin/reports/export.csv").status_code in (302, 403)
