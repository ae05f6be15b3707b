"""The money rule's figures over a known day: day report, shift X/Z, dashboard and reconciliation, figure by figure.

The day (yesterday, WIB) at register 1, Siti's shift opened at 07:00 with Rp 100.000, built through the domain
(kasir.tenders, kasir.payments.service, apply_status) and then moved to its hour, as tests/fixtures/days.py known_day
does. Prices: SKU0001 3.500, SKU0002 3.300, SKU0003 3.400, SKU0004 6.000, SKU0005 4.500, SKU0006 4.000 (Aqua),
SKU0007 4.000, SKU0027 2.500 (Beng-Beng).

 08:00 cash      2 x SKU0001 = 7.000, tendered 10.000, change 3.000
 08:30 debit     SKU0004 = 6.000
 09:00 QRIS      SKU0005 + SKU0006 = 8.500, QR 8.500 paid; 12:00 partial refund 4.500 (one item back)
 09:30 split     SKU0004 + SKU0007 = 10.000: QR 4.000 paid, then cash 10.000 for the 6.000 due (change 4.000)
 10:00 late      SKU0002 = 3.300: QR 3.300 cancelled, cash 5.000 (change 1.700); 10:20 the cancelled QR is paid
 11:00 double    SKU0003 = 3.400: QR 3.400 open, cash 3.400 taken; 11:05 the QR is paid too
 11:30 API       WEB-1 25.000 paid (another app of the shop)
 15:00 short     SKU0027 + SKU0006 = 6.500 (the issue's Beng-Beng + Aqua): QR for 2.500 paid, sale left open
"""
from datetime import date

from kasir.clock import wib_day_bounds
from kasir.extensions import db
from kasir.models import Tender
from kasir.payments import refunds
from kasir.payments.models import PaymentLog
from kasir.reports import daily, dashboard, reconcile, shifts
from support.config import sqlite_only
from support.days import GENERIC, settlement_file


def test_day_report_counts_sales_by_their_tenders(money_day):
    report = daily.build_report(money_day.day)

    # Paid sales: cash 7.000 + debit 6.000 + QRIS 8.500 + split 10.000 + 3.300 and 3.400 (both closed in cash).
    assert (report.sale_count, report.gross_total, report.split_count) == (6, 38_200, 1)
    assert report.average_basket == 6_367  # 38.200 / 6 = 6.366,67
    # Cash 7.000 + 6.000 (the split's rest) + 3.300 + 3.400 = 19.700 in 4 sales; debit 6.000;
    # QRIS 8.500 + 4.000 (the split's QR) = 12.500 in 2 sales: 19.700 + 6.000 + 12.500 = 38.200.
    assert {method: (total.count, total.amount) for method, total in report.by_method.items()} == {
        "CASH": (4, 19_700), "DEBIT": (1, 6_000), "QRIS": (2, 12_500)}
    # The open short sale is no sale yet: its 2.500 is money received, listed with what it lacks.
    assert [(short.sale.id, short.received, short.due) for short in report.short_sales] == [
        (money_day.short_sale.id, 2_500, 4_000)]
    assert report.short_total == 4_000
    # By hour of payment: 08 7.000 + 6.000; 09 8.500 + 10.000; 10 3.300; 11 3.400.
    assert {hour: amount for hour, amount in enumerate(report.hourly_amounts) if amount} == {
        8: 13_000, 9: 18_500, 10: 3_300, 11: 3_400}


def test_day_report_qris_received_is_the_money_that_came_in(money_day):
    report = daily.build_report(money_day.day)

    # 8.500 + 4.000 + 3.300 (late) + 3.400 (double) + 25.000 (API) + 2.500 (short) = 46.700 in 6 payments;
    # the 8.500 counts although 4.500 of it was refunded later (the refund is its own line).
    assert (report.qris_received_count, report.qris_received) == (6, 46_700)
    assert (report.qris_api_count, report.qris_api) == (1, 25_000)
    assert report.qris_for_sales == 12_500
    assert [(over.payment.order_id, over.amount, over.reason) for over in report.overpayments] == [
        (money_day.late.order_id, 3_300, "terlambat"), (money_day.double.order_id, 3_400, "ganda")]
    assert report.overpayment_total == 6_700
    # Every rupiah is somewhere: for sales + to refund + other apps + the open sale's part.
    assert report.qris_received == report.qris_for_sales + report.overpayment_total + report.qris_api + 2_500
    # Refunds: 4.500 of the 09:00 QRIS sale; net 38.200 - 4.500.
    assert (report.refund_count, report.refund_total, report.refund_of_sales, report.net_total) == (
        1, 4_500, 4_500, 33_700)
    assert (report.qris_late_count, report.qris_expired_count, report.void_count) == (1, 0, 0)


def test_refunding_money_no_sale_took_takes_nothing_from_the_sales(money_day):
    refunds.refund(money_day.double, 1_000, "Dibayar dua kali (sebagian)", "owner")
    # Still to refund: 3.400 - 1.000 of the double payment, and the late one.
    assert [(over.payment.order_id, over.amount) for over in daily.build_report(money_day.day).overpayments] == [
        (money_day.late.order_id, 3_300), (money_day.double.order_id, 2_400)]
    refunds.refund(money_day.double, 2_400, "Dibayar dua kali (sisanya)", "owner")
    db.session.execute(db.update(PaymentLog).where(PaymentLog.payment_id == money_day.double.id,
                                                   PaymentLog.at > money_day.at(23, 59))
                       .values(at=money_day.at(16, 0)))  # refunded at 16:00 of the day
    db.session.commit()

    report = daily.build_report(money_day.day)

    # Refunds: 4.500 of the QRIS sale + the double payment's 1.000 and 2.400; only the 4.500 was the sales' money.
    assert (report.refund_count, report.refund_total, report.refund_of_sales) == (3, 7_900, 4_500)
    assert report.net_total == 38_200 - 4_500
    # Given back, the double payment is no longer money to refund; the late one still is.
    assert [(over.payment.order_id, over.amount) for over in report.overpayments] == [(money_day.late.order_id, 3_300)]


def test_day_report_page_and_csv_show_the_money_rule(client, auth, money_day):
    auth.login_admin()
    page = client.get(f"/admin/reports?from={money_day.day}").get_data(as_text=True)
    for figure in ("Rp 38.200", "Rp 19.700", "Rp 12.500", "Rp 46.700", "Rp 6.700", "Rp 25.000", "Kurang Rp 4.000",
                   "Campuran", "QRIS diterima", "QRIS untuk penjualan", "Kelebihan bayar (perlu refund)",
                   money_day.late.order_id, money_day.double.order_id, "Terlambat", "Ganda"):
        assert figure in page, figure

    rows = client.get(f"/admin/reports/export.csv?from={money_day.day}").get_data(as_text=True).splitlines()
    assert "alasan_batal,tunai,debit,qris," in rows[0]
    # One line per paid sale, in payment order; the split sale's line carries both of its tenders.
    assert [row.split(",")[5:14] for row in rows[1:]] == [
        ["CASH", "7000", "0", "7000", "PAID", "", "7000", "0", "0"],
        ["DEBIT", "6000", "0", "6000", "PAID", "", "0", "6000", "0"],
        ["QRIS", "8500", "0", "8500", "PAID", "", "0", "0", "8500"],
        ["SPLIT", "10000", "0", "10000", "PAID", "", "6000", "0", "4000"],
        ["CASH", "3300", "0", "3300", "PAID", "", "3300", "0", "0"],
        ["CASH", "3400", "0", "3400", "PAID", "", "3400", "0", "0"]]


def test_shift_x_and_z_count_the_drawer_from_cash_tenders(money_day):
    x = shifts.summarize(money_day.shift)

    assert x.kind == "X"
    # Money Siti took while the shift was open, by tender: the open short sale's QRIS 2.500 too.
    assert x.totals == {"CASH": (4, 19_700), "DEBIT": (1, 6_000), "QRIS": (3, 15_000)}
    assert (x.sale_count, x.split_count, x.sales_total) == (7, 1, 40_700)
    # Cash kept = tendered - change: 10.000-3.000, 10.000-4.000, 5.000-1.700, 3.400-0 = 19.700.
    kept = db.session.scalars(db.select(Tender).where(Tender.method == "CASH")).all()
    assert sum(tender.tendered - tender.change for tender in kept) == x.cash_sales == 19_700
    assert x.expected_cash == 100_000 + 19_700
    assert [(over.payment.order_id, over.amount) for over in x.overpayments] == [
        (money_day.late.order_id, 3_300), (money_day.double.order_id, 3_400)]
    assert [(short.sale.id, short.due) for short in x.short_sales] == [(money_day.short_sale.id, 4_000)]

    z = shifts.close_shift(money_day.shift, "119.500")

    assert z.kind == "Z" and (z.totals, z.sales_total, z.overpayment_total) == (x.totals, 40_700, 6_700)
    assert (money_day.shift.expected_cash, money_day.shift.counted_cash, money_day.shift.difference) == (
        119_700, 119_500, -200)
    text = [line.text for line in shifts.build_shift_receipt(z, {"shop_name": "Toko Maju"}, 58).lines]
    assert any(line.startswith("QRIS (3)") and line.endswith("15.000") for line in text)
    assert any(line.startswith("Kelebihan bayar (2)") and line.endswith("6.700") for line in text)
    assert any(line.startswith(f" terlambat {money_day.late_sale.display_number}") and line.endswith("3.300")
               for line in text)
    assert "Campuran: 1 transaksi" in text and "Belum lunas (1)" in text
    assert any(line.startswith("Kas seharusnya") and line.endswith("119.700") for line in text)


def test_shift_page_at_the_till_lists_what_does_not_fit(client, auth, money_day):
    auth.login_cashier()
    page = client.get("/pos/shift/x", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Rp 119.700" in page and "Rp 15.000" in page and "1 campuran" in page
    assert "Kelebihan bayar (terlambat)" in page and "Kelebihan bayar (ganda)" in page
    assert "diterima Rp 2.500 dari Rp 6.500" in page


def test_dashboard_counts_money_to_refund_and_open_short_sales(client, auth, money_day):
    window = dashboard.build_window("hari itu", *wib_day_bounds(money_day.day))
    # Six QRs issued (five at the till, one API), all six paid: the cancelled one late.
    assert (window.issued, window.paid, window.late, window.cancelled) == (6, 6, 1, 0)
    assert (len(window.overpayments), window.overpayment_total) == (2, 6_700)

    board = dashboard.build_dashboard()
    assert (len(board.week.overpayments), len(board.today.overpayments)) == (2, 0)
    assert [short.sale.id for short in board.short_sales] == [money_day.short_sale.id]
    assert board.needs_action == 3

    auth.login_admin()
    page = client.get("/admin/dashboard").get_data(as_text=True)
    assert "2 · Rp 6.700" in page and "Kurang Rp 4.000" in page
    assert money_day.late.order_id in page and money_day.double.order_id in page


def test_reconciliation_never_calls_a_payment_that_differs_from_its_sale_matched(money_day):
    report = reconcile.reconcile(money_day.day, reconcile.parse_csv(settlement_file(money_day)), "midtrans.csv")

    # Matched: the QRIS sale (refunded in part later, which is no difference), the split's QR and the API one.
    assert {row.order_id for row in report.matched} == {money_day.qris.order_id, money_day.split_qr.order_id, "WEB-1"}
    assert report.counts == {"matched": 3, "sale_mismatch": 3, "missing_in_kasir": 1}
    # "Nominal beda dengan transaksi": (paid, sale total, applied to it, to refund, still lacking).
    assert [(m.payment.order_id, m.payment.amount, m.payment.sale.total, m.applied, m.unapplied, m.short)
            for m in report.sale_mismatch] == [
        (money_day.late.order_id, 3_300, 3_300, 0, 3_300, 0),
        (money_day.double.order_id, 3_400, 3_400, 0, 3_400, 0),
        (money_day.short.order_id, 2_500, 6_500, 2_500, 0, 4_000)]
    assert report.sale_mismatch[2].notes == ["Transaksi belum lunas dengan kurang Rp 4.000"]
    assert report.sale_mismatch[0].notes == ["Kelebihan Rp 3.300 (terlambat), perlu refund"]
    assert (report.missing_at_gateway, report.amount_mismatch, report.late) == ([], [], [])
    assert not report.clean
    assert "Nominal beda dengan transaksi: 3" in reconcile.format_report(report)


def test_reconciliation_lists_the_differences_before_the_gateway_file_comes(money_day):
    report = reconcile.load_report(money_day.day, "")
    assert [m.payment.order_id for m in report.sale_mismatch] == [
        money_day.late.order_id, money_day.double.order_id, money_day.short.order_id]


def test_reconciliation_page_shows_both_amounts(client, auth, money_day):
    reconcile.reconcile(money_day.day, reconcile.parse_csv(settlement_file(money_day)), "midtrans.csv")
    auth.login_admin()
    page = client.get(f"/admin/reconciliation?date={money_day.day}&source=midtrans.csv").get_data(as_text=True)
    section = page[page.index('data-group="sale_mismatch"'):page.index('data-group="late"')]
    assert "Nominal beda dengan transaksi" in section
    short_row = section[section.index(f'data-payment="{money_day.short.order_id}"'):]
    short_row = short_row[:short_row.index("</tr>")]
    assert "Rp 2.500" in short_row and "Rp 6.500" in short_row and "kurang Rp 4.000" in short_row
    matched = page[page.index('data-group="matched"'):page.index('data-group="missing_in_kasir"')]
    assert money_day.short.order_id not in matched


@sqlite_only("upgrades a SQLite file made by an older Kasir")
def test_the_issues_sale_closed_on_rp_2500_of_rp_6500_is_never_cocok(upgraded):
    """Before tenders, a Rp 2.500 QR closed a Rp 6.500 sale (issue 20): its settlement is a difference."""
    day = date(2026, 11, 20)
    rows = reconcile.parse_csv(GENERIC + f",POS-1-261120-0004-1,2500,18,2482,{day},settlement\n"
                                         f",POS-1-261120-0003-2,8500,60,8440,{day},settlement\n")
    report = reconcile.reconcile(day, rows, "midtrans.csv")

    assert [row.order_id for row in report.matched] == ["POS-1-261120-0003-2"]
    assert report.counts == {"matched": 1, "sale_mismatch": 1}
    [mismatch] = report.sale_mismatch
    assert (mismatch.payment.amount, mismatch.payment.sale.total, mismatch.applied, mismatch.short) == (
        2_500, 6_500, 2_500, 4_000)
    assert mismatch.notes == ["Transaksi ditutup dengan kurang Rp 4.000"]
