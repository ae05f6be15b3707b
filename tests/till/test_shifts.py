"""Shifts: opening cash, X report mid-shift, Z report on close (expected vs counted), printing and a backup."""
import pytest

from kasir import backup
from kasir.backup import BackupError
from kasir.extensions import db
from kasir.models import AuditLog, Register, Shift, User
from kasir.reports import shifts
from support.config import sqlite_only
from support.days import shift_over_known_day

ALL_DAY_CASH = 14_400  # the known day's cash sales: 7.000 + 4.000 + 3.400 (the voided 3.500 went back)


def test_z_report_compares_counted_cash_with_opening_plus_cash_sales(known_day):
    shift = shift_over_known_day(known_day)

    summary = shifts.close_shift(shift, "214.000", note="Kurang 400, uang receh")

    assert summary.kind == "Z" and not shift.is_open
    assert summary.totals == {"CASH": (3, 14_400), "DEBIT": (1, 6_000), "QRIS": (3, 17_800)}
    assert (summary.sale_count, summary.sales_total) == (7, 38_200)
    assert (summary.void_count, summary.void_total) == (1, 3_500)
    assert (shift.opening_cash, summary.cash_sales, shift.expected_cash) == (200_000, ALL_DAY_CASH, 214_400)
    assert (shift.counted_cash, shift.difference, shift.note) == (214_000, -400, "Kurang 400, uang receh")
    entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "CloseShift"))
    assert "expected=214400 counted=214000 difference=-400" in entry.detail


@sqlite_only("the backup made on closing is a copy of the SQLite file")
def test_closing_a_shift_leaves_a_backup(known_day):
    shifts.close_shift(shift_over_known_day(known_day), "214400")
    assert [b.name for b in backup.list_backups() if "tutup-shift" in b.name]


def test_x_report_shows_the_running_figures_and_leaves_the_shift_open(known_day):
    shift = shift_over_known_day(known_day)
    summary = shifts.summarize(shift)
    assert summary.kind == "X" and shift.is_open
    assert (summary.expected_cash, summary.sales_total) == (214_400, 38_200)
    assert shift.counted_cash is None and shift.difference is None


def test_sales_before_the_shift_opened_are_not_in_its_drawer(known_day):
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    shift = shifts.open_shift(register, db.session.scalar(db.select(User).where(User.username == "siti")), "100000")
    summary = shifts.close_shift(shift, "100000")
    assert (summary.cash_sales, shift.expected_cash, shift.difference) == (0, 100_000, 0)


def test_z_report_receipt_lists_the_drawer_and_fits_the_paper(known_day):
    summary = shifts.close_shift(shift_over_known_day(known_day), "214000")
    receipt = shifts.build_shift_receipt(summary, {"shop_name": "Toko Maju"}, 58)
    text = [line.text for line in receipt.lines]
    assert "LAPORAN Z (TUTUP SHIFT)" in text
    assert any(line.startswith("Tunai (3)") and line.endswith("14.400") for line in text)
    assert any(line.startswith("Kas seharusnya") and line.endswith("214.400") for line in text)
    assert any(line.startswith("Selisih") and line.endswith("-400") for line in text)
    assert all(len(line) <= receipt.columns for line in text)


def test_a_failed_backup_never_fails_the_close(known_day, monkeypatch):
    def broken(reason):
        raise BackupError("disk full")

    monkeypatch.setattr(shifts, "create_backup", broken)
    shift = shift_over_known_day(known_day)
    shifts.close_shift(shift, "214400")
    assert db.session.get(Shift, shift.id).difference == 0


def test_one_open_shift_per_register_and_money_must_be_valid(known_day):
    shift = shift_over_known_day(known_day)
    with pytest.raises(shifts.ShiftError, match="belum ditutup"):
        shifts.open_shift(shift.register, shift.cashier, "0")
    with pytest.raises(shifts.ShiftError, match="Kas dihitung"):
        shifts.close_shift(shift, "banyak")
    shifts.close_shift(shift, "0")
    with pytest.raises(shifts.ShiftError, match="sudah ditutup"):
        shifts.close_shift(shift, "0")


def test_admin_opens_and_closes_a_shift_and_prints_the_z_report(client, auth, app, printer):
    auth.login_admin()
    with app.app_context():
        register_id = db.session.scalar(db.select(Register.id))
        cashier_id = db.session.scalar(db.select(User.id).where(User.username == "siti"))
    opened = client.post("/admin/shifts", data={"register_id": register_id, "cashier_id": cashier_id,
                                                "opening_cash": "150.000"})
    assert opened.status_code == 302
    detail = opened.headers["Location"]
    x_page = client.get(detail).get_data(as_text=True)
    assert "Laporan X" in x_page and "Rp 150.000" in x_page and "LAPORAN X (SEMENTARA)" in x_page

    refused = client.post(f"{detail}/close", data={"counted_cash": "-5"})
    assert refused.status_code == 422 and "Kas dihitung" in refused.get_data(as_text=True)
    closed = client.post(f"{detail}/close", data={"counted_cash": "149.500"}, follow_redirects=True)
    page = closed.get_data(as_text=True)
    assert "Laporan Z" in page and "-Rp 500" in page

    client.post(f"{detail}/print")
    assert b"LAPORAN Z" in printer.wait_for_jobs(1)[0]
    assert "-Rp 500" in client.get("/admin/shifts").get_data(as_text=True)


def test_printing_without_a_printer_explains_why(client, auth, app):
    auth.login_admin()
    with app.app_context():
        register_id = db.session.scalar(db.select(Register.id))
        cashier_id = db.session.scalar(db.select(User.id).where(User.username == "siti"))
    detail = client.post("/admin/shifts", data={"register_id": register_id, "cashier_id": cashier_id,
                                                "opening_cash": "0"}).headers["Location"]
    page = client.post(f"{detail}/print", follow_redirects=True).get_data(as_text=True)
    assert "gagal dicetak" in page and "Printer struk belum diatur" in page
