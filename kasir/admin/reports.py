"""Admin: sales reports with CSV export, shifts with their X/Z reports, and settlement reconciliation."""
import io
from datetime import date, timedelta

from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.utils import secure_filename

from .. import audit
from ..api.models import Settlement
from ..auth import admin_required
from ..clock import business_date
from ..extensions import db
from ..models import ROLE_CASHIER, Register, Shift, User
from ..payments.models import Payment
from ..payments.providers.base import ProviderError
from ..printing.backends import PrinterError
from ..printing.settings import printer_settings
from ..reports import daily, reconcile, shifts
from ..settings import shop_profile
from .blueprint import bp

SHIFT_PAGE_SIZE = 30


def _date_range(args) -> tuple[date, date]:
    """?from=&to= as WIB days; today when missing or unreadable, swapped when reversed."""
    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    date_from = day("from") or business_date()
    date_to = day("to") or date_from
    return (date_from, date_to) if date_from <= date_to else (date_to, date_from)


@bp.route("/reports")
@admin_required
def sales_report():
    date_from, date_to = _date_range(request.args)
    return render_template("admin/reports.html", report=daily.build_report(date_from, date_to))


@bp.route("/reports/export.csv")
@admin_required
def sales_report_export():
    date_from, date_to = _date_range(request.args)
    filename = f"penjualan-{date_from.isoformat()}_{date_to.isoformat()}.csv"
    return Response(stream_with_context(daily.export_csv(date_from, date_to)), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def _shift_list_page(error: str | None = None, status: int = 200):
    registers = db.session.scalars(db.select(Register).where(Register.active.is_(True)).order_by(Register.code)).all()
    cashiers = db.session.scalars(db.select(User).where(User.active.is_(True), User.role == ROLE_CASHIER)
                                  .order_by(User.display_name)).all()
    recent = db.session.scalars(db.select(Shift).order_by(Shift.opened_at.desc()).limit(SHIFT_PAGE_SIZE)).all()
    return render_template("admin/shifts.html", shifts=recent, registers=registers, cashiers=cashiers,
                           error=error, form=request.form, required=shifts.shift_required()), status


@bp.route("/shifts")
@admin_required
def shift_list():
    return _shift_list_page()


@bp.route("/shifts/required", methods=["POST"])
@admin_required
def shift_required_save():
    required = request.form.get("required") == "1"
    shifts.set_shift_required(required)
    flash("Kasir wajib membuka shift sebelum menerima pembayaran." if required
          else "Kasir bisa berjualan tanpa shift terbuka.", "success")
    return redirect(url_for("admin.shift_list"))


@bp.route("/shifts", methods=["POST"])
@admin_required
def shift_open():
    register = db.session.get(Register, request.form.get("register_id", type=int) or 0)
    cashier = db.session.get(User, request.form.get("cashier_id", type=int) or 0)
    if register is None or cashier is None:
        return _shift_list_page("Pilih kasir (register) dan petugasnya.", 422)
    try:
        shift = shifts.open_shift(register, cashier, request.form.get("opening_cash", ""))
    except shifts.ShiftError as exc:
        return _shift_list_page(str(exc), 422)
    flash(f"Shift kasir {register.code} dibuka.", "success")
    return redirect(url_for("admin.shift_detail", shift_id=shift.id))


def _shift_page(shift: Shift, error: str | None = None, status: int = 200):
    summary = shifts.summarize(shift)
    receipt = shifts.build_shift_receipt(summary, shop_profile(), printer_settings().width_mm)
    return render_template("admin/shift.html", shift=shift, summary=summary, receipt=receipt, error=error,
                           form=request.form), status


@bp.route("/shifts/<int:shift_id>")
@admin_required
def shift_detail(shift_id):
    return _shift_page(db.get_or_404(Shift, shift_id))


@bp.route("/shifts/<int:shift_id>/close", methods=["POST"])
@admin_required
def shift_close(shift_id):
    shift = db.get_or_404(Shift, shift_id)
    try:
        shifts.close_shift(shift, request.form.get("counted_cash", ""), request.form.get("note", ""))
    except shifts.ShiftError as exc:
        return _shift_page(shift, str(exc), 422)
    flash(f"Shift ditutup oleh {g.user.display_name}. Laporan Z tersimpan.", "success")
    return redirect(url_for("admin.shift_detail", shift_id=shift.id))


@bp.route("/shifts/<int:shift_id>/print", methods=["POST"])
@admin_required
def shift_print(shift_id):
    summary = shifts.summarize(db.get_or_404(Shift, shift_id))
    try:
        shifts.print_shift_report(summary, shop_profile())
    except PrinterError as exc:
        flash(f"Laporan {summary.kind} gagal dicetak: {exc}", "error")
    else:
        flash(f"Laporan {summary.kind} dicetak.", "success")
    return redirect(url_for("admin.shift_detail", shift_id=shift_id))


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return business_date() - timedelta(days=1)


def _reconciliation_page(day: date, source: str, error: str | None = None, status: int = 200):
    sources = reconcile.recent_sources()
    source = source or (sources[0] if sources else "")
    report = reconcile.load_report(day, source)
    return render_template("admin/reconciliation.html", report=report, sources=sources, error=error,
                           resolution_of=reconcile.resolution_of), status


@bp.route("/reconciliation")
@admin_required
def reconciliation():
    return _reconciliation_page(_day(request.args.get("date")), request.args.get("source", ""))


def _settlement_problem(error: Exception) -> str:
    """Why a settlement was refused, in the admin's words (never a codec's or a parser's English)."""
    if isinstance(error, UnicodeDecodeError):
        return 'berkas bukan teks UTF-8; simpan ulang sebagai "CSV UTF-8"'
    if isinstance(error, ProviderError):
        return error.message
    return str(error)


@bp.route("/reconciliation", methods=["POST"])
@admin_required
def reconciliation_run():
    """Import an uploaded settlement CSV, or, without a file, fetch the day's settlement from the gateway."""
    day = _day(request.form.get("date"))
    upload = request.files.get("file")
    try:
        if upload and upload.filename:
            lines = io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")
            report = reconcile.reconcile(day, reconcile.read_rows(lines), secure_filename(upload.filename))
        else:
            report = reconcile.run(day)
    except (reconcile.SettlementFileError, UnicodeDecodeError, ProviderError) as exc:
        db.session.rollback()
        return _reconciliation_page(day, "", f"Settlement ditolak: {_settlement_problem(exc)}.", 422)
    audit.record("RunReconciliation", report.source, detail=f"day={day} rows={report.rows}")
    db.session.commit()
    flash(f"Rekonsiliasi {day:%d/%m/%Y}: {report.rows} baris dibaca.", "success")
    return redirect(url_for("admin.reconciliation", date=day.isoformat(), source=report.source))


def _back_to_reconciliation():
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/admin/reconciliation") else url_for("admin.reconciliation"))


@bp.route("/reconciliation/settlements/<int:settlement_id>/resolve", methods=["POST"])
@admin_required
def reconciliation_resolve_settlement(settlement_id):
    try:
        reconcile.resolve_settlement(db.get_or_404(Settlement, settlement_id), request.form.get("note", ""))
    except reconcile.ReconciliationError as exc:
        flash(str(exc), "error")
    return _back_to_reconciliation()


@bp.route("/reconciliation/payments/<payment_id>/resolve", methods=["POST"])
@admin_required
def reconciliation_resolve_payment(payment_id):
    try:
        reconcile.resolve_payment(db.get_or_404(Payment, payment_id), request.form.get("note", ""))
    except reconcile.ReconciliationError as exc:
        flash(str(exc), "error")
    return _back_to_reconciliation()
