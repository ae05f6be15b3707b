"""Admin: sales reports with CSV export, and shifts with their X/Z reports."""
from datetime import date

from flask import Response, flash, g, redirect, render_template, request, stream_with_context, url_for

from ..auth import admin_required
from ..clock import business_date
from ..extensions import db
from ..models import ROLE_CASHIER, Register, Shift, User
from ..printing.backends import PrinterError
from ..printing.settings import printer_settings
from ..reports import daily, shifts
from ..settings import shop_profile
from . import bp

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
                           error=error, form=request.form), status


@bp.route("/shifts")
@admin_required
def shift_list():
    return _shift_list_page()


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
