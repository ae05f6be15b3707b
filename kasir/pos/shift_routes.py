"""Shifts at the till: open with the drawer's cash, X report on the way, close with the counted cash (Z report).

A sale belongs to the shift that was open at its register, for its cashier, when it was paid
(kasir.reports.shifts). Selling never waits for a shift unless the owner requires one ("Wajib buka shift").
"""
from flask import g, render_template, request

from ..extensions import db
from ..models import Shift
from ..printing.backends import PrinterError
from ..reports import shifts
from ..settings import shop_profile
from ..web import toast
from .blueprint import bp
from .routes import with_register


@bp.context_processor
def shift_helpers():
    """Called only by the templates that show a shift, so the 1-second polls never look one up."""
    return {"till_shift": lambda: shifts.open_shift_for(g.register), "may_close": shifts.may_close,
            "shift_required": shifts.shift_required}


def shift_modal(error: str | None = None, status: int = 200):
    """The shift modal: the opening form, or the open shift with its close form."""
    return render_template("pos/_shift.html", shift=shifts.open_shift_for(g.register), error=error,
                           form=request.form), status


@bp.route("/shift")
@with_register
def shift_panel():
    return shift_modal()


@bp.route("/shift/open", methods=["POST"])
@with_register
def shift_open():
    try:
        shift = shifts.open_shift(g.register, g.user, request.form.get("opening_cash", "")[:30])
    except shifts.ShiftError as exc:
        db.session.rollback()
        return shift_modal(str(exc), 422)
    return render_template("pos/_shift_opened.html", shift=shift)


@bp.route("/shift/x")
@with_register
def shift_x_report():
    shift = shifts.open_shift_for(g.register)
    if shift is None:
        return shift_modal()
    return render_template("pos/_shift_report.html", shift=shift, summary=shifts.summarize(shift))


@bp.route("/shift/close", methods=["POST"])
@with_register
def shift_close():
    shift = shifts.open_shift_for(g.register)
    if shift is None:
        return shift_modal("Tidak ada shift terbuka di kasir ini.", 422)
    try:
        shifts.ensure_may_close(shift, g.user)
        summary = shifts.close_shift(shift, request.form.get("counted_cash", "")[:30],
                                     request.form.get("note", "")[:200])
    except shifts.ShiftError as exc:
        db.session.rollback()
        return shift_modal(str(exc), 422)
    printer_error = None
    try:
        shifts.print_shift_report(summary, shop_profile())
    except PrinterError as exc:  # the Z report is saved; the paper can follow with "Cetak Ulang"
        printer_error = str(exc)
    return render_template("pos/_shift_report.html", shift=shift, summary=summary, printer_error=printer_error,
                           just_closed=True)


@bp.route("/shift/<int:shift_id>/print", methods=["POST"])
@with_register
def shift_print(shift_id):
    shift = db.session.get(Shift, shift_id)
    if shift is None or shift.register_id != g.register.id:
        return toast("Shift tidak ditemukan.", 404)
    summary = shifts.summarize(shift)
    try:
        shifts.print_shift_report(summary, shop_profile())
    except PrinterError as exc:
        return toast(f"Laporan {summary.kind} gagal dicetak: {exc}")
    return toast(f"Laporan {summary.kind} dicetak.", 200, "success")
