from flask import abort, flash, g, make_response, redirect, render_template, request, url_for

from .. import approvals, audit
from ..auth import login_required
from ..auth.approval import approved, approver_from_form, ask_approval
from ..extensions import db
from ..mail import outbox as mail_outbox
from ..mail import settings as mail_settings
from ..models import PRINT_PRINTED, SALE_OPEN, SALE_PAID, Sale
from ..settings import shop_profile
from ..web import is_htmx, toast
from . import ereceipt, queue
from .backends import PrinterError
from .blueprint import bp
from .layout import COLUMNS, build_receipt
from .settings import printer_settings

# htmx event the cashier's print banner listens for, to refresh right after a reprint
PRINTED_EVENT = "kasir:printed"


def _closed_sale_or_404(sale_id: int) -> Sale:
    sale = db.session.get(Sale, sale_id)
    if sale is None or sale.status == SALE_OPEN:
        abort(404)
    return sale


@bp.route("/receipts/<int:sale_id>")
@login_required
def preview(sale_id):
    sale = _closed_sale_or_404(sale_id)
    width = request.args.get("width", type=int) or printer_settings().width_mm
    if width not in COLUMNS:
        width = 58
    receipt = build_receipt(sale, shop_profile(), width)
    template = "printing/_receipt.html" if request.headers.get("HX-Request") else "printing/receipt.html"
    return render_template(template, receipt=receipt, sale=sale)


@bp.route("/receipts/<int:sale_id>/print", methods=["POST"])
@login_required
def print_receipt(sale_id):
    """Print a receipt again: a toast for htmx, a flash and the preview page for a plain form.

    A copy of a receipt that was already printed needs a supervisor's approval (the first print, even when
    the automatic one failed, does not).
    """
    sale = _closed_sale_or_404(sale_id)
    if queue.printed_before(sale):
        try:
            approver = approver_from_form("Reprint", sale.display_number)
            supervisor = approvals.require_supervisor(
                g.user, approver, f"Struk {sale.display_number} sudah pernah dicetak. Cetak ulang perlu "
                                  "persetujuan supervisor.")
        except (approvals.ApprovalNeeded, approvals.ApprovalRefused) as exc:
            db.session.rollback()
            if is_htmx():
                return ask_approval(exc, target="#toast", swap="innerHTML")
            flash(getattr(exc, "reason", str(exc)) + " Cetak ulang dari Penjualan Hari Ini di kasir.", "error")
            return redirect(url_for("printing.preview", sale_id=sale.id))
        audit.record("Reprint", sale.display_number, detail=f"approved_by={supervisor.username}")
    try:
        job = queue.reprint(sale)
    except PrinterError as exc:
        message, status, kind = str(exc), 409, "error"
    else:
        if job.status == PRINT_PRINTED:
            message, status, kind = f"Struk {sale.display_number} dicetak.", 200, "success"
        else:
            message = (f"Struk {sale.display_number} belum tercetak: printer tidak menjawab. Periksa kertas, kabel "
                       "dan daya; dicoba lagi otomatis.")
            status, kind = 202, "error"
    if not is_htmx():
        flash(message, kind)
        return redirect(url_for("printing.preview", sale_id=sale.id))
    response = toast(message, status, kind)
    response.headers["HX-Trigger"] = PRINTED_EVENT
    return approved(response)


@bp.route("/printing/status")
@login_required
def status():
    """The cashier's banner of receipts not printed yet after a failed try; empty when there are none."""
    return render_template("printing/_status.html", unprinted=queue.unprinted_jobs())


@bp.route("/r/<token>")
def public_receipt(token):
    """The e-receipt a customer opens on a phone: read-only, no login, found only by its unguessable token."""
    if not 20 <= len(token) <= 48:
        abort(404)
    sale = db.session.scalar(db.select(Sale).where(Sale.receipt_token == token))
    if sale is None or sale.status == SALE_OPEN:
        abort(404)
    response = make_response(render_template("printing/ereceipt.html", receipt=build_receipt(sale, shop_profile()),
                                             sale=sale))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.route("/receipts/<int:sale_id>/whatsapp")
@login_required
def whatsapp(sale_id):
    """Open WhatsApp with the receipt as text, to the number the cashier typed."""
    sale = _closed_sale_or_404(sale_id)
    try:
        link = ereceipt.whatsapp_link(build_receipt(sale, shop_profile(), printer_settings().width_mm),
                                      request.args.get("phone", ""))
    except ereceipt.PhoneError as exc:
        return render_template("printing/ereceipt_error.html", message=str(exc)), 400
    return redirect(link)


@bp.app_context_processor
def email_in_templates():
    # A function, so only pages offering "Kirim via Email" pay for the settings lookup.
    return {"email_ready": lambda: mail_settings.load().configured}


@bp.route("/receipts/<int:sale_id>/email", methods=["POST"])
@login_required
def email(sale_id):
    """Queue the receipt to the address the cashier typed; the answer is the form again, saying so. Sending is
    the job's (kasir.mail.outbox): the till never waits on a mail server."""
    sale = _closed_sale_or_404(sale_id)
    if sale.status != SALE_PAID:  # a parked or voided sale has no receipt to send
        abort(404)
    typed = request.form.get("email", "")
    if not mail_settings.load().configured:
        message = "Email belum diatur. Minta admin mengisi pengaturan SMTP di Struk Digital."
        status, sent_to = 409, None
    else:
        try:
            row = mail_outbox.enqueue(sale, typed)
        except mail_settings.AddressError as exc:
            message, status, sent_to = str(exc), 422, None
        else:
            message, status, sent_to = f"Struk dijadwalkan dikirim ke {row.recipient}.", 200, row.recipient
    return render_template("printing/_email_form.html", sale=sale, message=message, ok=sent_to is not None,
                           typed="" if sent_to else typed), status
