from flask import abort, current_app, render_template, request

from ..auth import login_required
from ..extensions import db
from ..models import SALE_OPEN, Sale
from ..settings import shop_profile
from . import bp
from .layout import COLUMNS, build_receipt


@bp.route("/receipts/<int:sale_id>")
@login_required
def preview(sale_id):
    sale = db.session.get(Sale, sale_id)
    if sale is None or sale.status == SALE_OPEN:
        abort(404)
    width = request.args.get("width", type=int) or current_app.config["PRINTER_WIDTH"]
    if width not in COLUMNS:
        width = 58
    receipt = build_receipt(sale, shop_profile(), width)
    template = "printing/_receipt.html" if request.headers.get("HX-Request") else "printing/receipt.html"
    return render_template(template, receipt=receipt, sale=sale)
