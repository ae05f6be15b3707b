from flask import abort, flash, redirect, render_template, request, url_for

from ..auth import login_required
from ..extensions import db
from ..models import PRINT_PRINTED, SALE_OPEN, Sale
from ..settings import shop_profile
from ..web import is_htmx, toast
from . import bp, queue
from .backends import PrinterError
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
    """Reprint: a toast for htmx, a flash and the preview page for a plain form."""
    sale = _closed_sale_or_404(sale_id)
    try:
        job = queue.reprint(sale)
    except PrinterError as exc:
        message, status, kind = str(exc), 409, "error"
    else:
        if job.status == PRINT_PRINTED:
            message, status, kind = f"Struk {sale.display_number} dicetak.", 200, "success"
        else:
            message = f"Struk {sale.display_number} belum tercetak: {job.last_error or 'printer sibuk'}. Dicoba lagi otomatis."
            status, kind = 202, "error"
    if not is_htmx():
        flash(message, kind)
        return redirect(url_for("printing.preview", sale_id=sale.id))
    response = toast(message, status, kind)
    response.headers["HX-Trigger"] = PRINTED_EVENT
    return response


@bp.route("/printing/status")
@login_required
def status():
    """The cashier's banner of receipts that could not be printed; empty when there are none."""
    return render_template("printing/_status.html", failed=queue.failed_jobs())
