"""Admin stock: the "Stok Menipis" list, a product's adjustments (received, waste, count) with a reason and
its low-stock threshold, and the stock ledger as CSV. Every stock change goes through kasir.stock.move."""
from flask import Response, abort, flash, g, redirect, render_template, request, stream_with_context, url_for

from .. import audit, stock
from ..auth import admin_required
from ..clock import format_wib
from ..csv_export import csv_lines
from ..database import write_transaction
from ..extensions import db
from ..models import Product, StockMovement
from .blueprint import bp

KIND_LABELS = {stock.SALE: "Penjualan", stock.RECEIVED: "Barang masuk", stock.WASTE: "Rusak/Hilang",
               stock.COUNT: "Stok opname", stock.RETURN: "Retur/Batal"}
MAX_QUANTITY = 1_000_000
LEDGER_HEADER = ("waktu_wib", "sku", "nama", "jenis", "perubahan", "stok_akhir", "alasan", "oleh")


def _quantity(text: str | None) -> int | None:
    text = (text or "").strip().replace(".", "")
    return int(text) if text.isdigit() and int(text) <= MAX_QUANTITY else None


@bp.route("/stock/low")
@admin_required
def stock_low():
    """Active products at or below their threshold (a threshold of 0 means no alert)."""
    rows = db.session.scalars(
        db.select(Product).where(stock.is_low())
        .order_by(Product.stock - Product.low_stock_threshold, Product.name)
    ).all()
    return render_template("admin/stock_low.html", products=rows)


@bp.route("/stock/<int:product_id>", methods=["GET", "POST"])
@admin_required
def stock_product(product_id: int):
    """One product's stock: adjust it (received, waste, count) with a reason, set its threshold."""
    product = db.session.get(Product, product_id) or abort(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = request.form
        if form.get("action") == "threshold":
            threshold = _quantity(form.get("low_stock_threshold"))
            if threshold is None:
                errors["low_stock_threshold"] = "Batas stok menipis harus bilangan bulat 0 sampai 1.000.000."
            else:
                with write_transaction():
                    locked = db.session.get(Product, product_id, with_for_update=True, populate_existing=True)
                    audit.record("StockThreshold", locked.sku,
                                 detail=f"from={locked.low_stock_threshold} to={threshold}")
                    locked.low_stock_threshold = threshold
                flash("Batas stok menipis disimpan.", "success")
                return redirect(url_for("admin.stock_product", product_id=product_id))
        else:
            kind, quantity = form.get("kind"), _quantity(form.get("quantity"))
            if kind not in stock.ADJUSTMENTS:
                errors["kind"] = "Pilih jenis penyesuaian."
            if quantity is None:
                errors["quantity"] = "Jumlah harus bilangan bulat 0 sampai 1.000.000."
            elif kind != stock.COUNT and quantity == 0:
                errors["quantity"] = "Jumlah tidak boleh 0."
            if len((form.get("reason") or "").strip()) < 3:
                errors["reason"] = "Alasan wajib diisi (minimal 3 huruf)."
            if not errors:
                with write_transaction():
                    locked = db.session.get(Product, product_id, with_for_update=True, populate_existing=True)
                    # A count states what is on the shelf; the ledger keeps the difference.
                    change = {stock.RECEIVED: quantity, stock.WASTE: -quantity}.get(kind, quantity - locked.stock)
                    stock.move(product_id, change, kind, form["reason"], g.user.username)
                flash("Stok diperbarui.", "success")
                return redirect(url_for("admin.stock_product", product_id=product_id))
    movements = db.session.scalars(db.select(StockMovement).where(StockMovement.product_id == product_id)
                                   .order_by(StockMovement.id.desc()).limit(50)).all()
    return render_template("admin/stock_product.html", product=product, movements=movements, errors=errors,
                           form=request.form, kinds=KIND_LABELS, adjustments=stock.ADJUSTMENTS), \
        400 if errors else 200


def _ledger_lines():
    """The ledger's CSV lines; the query runs inside the streamed response (a generator), as product export's."""
    query = (db.select(StockMovement.at, Product.sku, Product.name, StockMovement.kind, StockMovement.change,
                       StockMovement.stock_after, StockMovement.reason, StockMovement.actor)
             .join(Product, Product.id == StockMovement.product_id).order_by(StockMovement.id)
             .execution_options(yield_per=500))
    yield from csv_lines(LEDGER_HEADER, ((format_wib(at, "%Y-%m-%d %H:%M:%S"), sku, name, kind, change, after,
                                          reason, actor)
                                         for at, sku, name, kind, change, after, reason, actor
                                         in db.session.execute(query)))


@bp.route("/stock/movements.csv")
@admin_required
def stock_movements_export():
    """The whole stock ledger, oldest first, streamed."""
    return Response(stream_with_context(_ledger_lines()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=mutasi-stok.csv"})
