import functools
import re

from flask import g, redirect, render_template, request, url_for

from .. import approvals, returns, sales, tenders
from .. import products as products_service
from ..auth import login_required
from ..auth.approval import approved, approver_from_form, ask_approval
from ..database import write_transaction
from ..extensions import db
from ..models import SALE_OPEN, Product, Register, Sale, SaleItem
from ..payments import service as payment_service
from ..payments import sync as payment_sync
from ..reports import shifts
from ..web import toast
from .blueprint import bp

REGISTER_COOKIE = "kasir_register"
QUICK_TENDERS = (20_000, 50_000, 100_000)
GRID_LIMIT = 60
QUANTITY_PREFIX = re.compile(r"\s*(\d{1,4})\s*\*\s*(.+)")  # "3*8992388101014" in the scan box: three of it


def with_register(view):
    """Resolve the browser's register (a cookie) and its cart; send the browser to pick one if unset."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        g.register = sales.find_register(request.cookies.get(REGISTER_COOKIE))
        if g.register is None:
            target = url_for("pos.choose_register")
            response = redirect(target)
            response.headers["HX-Redirect"] = target
            return response
        return view(**kwargs)

    return login_required(wrapped)


def cart_response(sale: Sale, changed: int | None = None):
    return render_template("pos/_cart.html", sale=sale, changed=changed)


def cart_action(action):
    """Run a cart change on the register's cart; answer with the new cart or a toast that explains.
    An action that returns the line it added or changed gets that line scrolled to and highlighted."""
    try:
        with write_transaction():
            sale = sales.current_sale(g.register, g.user)
            line = action(sale)
            sales.touch_display(g.register.id)
    except (approvals.ApprovalNeeded, approvals.ApprovalRefused) as exc:
        return ask_approval(exc, target="#cart")
    except sales.SaleError as exc:
        return toast(str(exc))
    return approved(cart_response(sale, changed=line.id if isinstance(line, SaleItem) else None))


def product_query(search: str, category: str):
    return products_service.search(search, category=category, limit=GRID_LIMIT)


@bp.route("/register", methods=["GET", "POST"])
@login_required
def choose_register():
    registers = db.session.scalars(db.select(Register).where(Register.active.is_(True)).order_by(Register.code)).all()
    if request.method == "POST":
        register = sales.find_register(request.form.get("register"))
        if register is None:
            return render_template("pos/register.html", registers=registers, error="Pilih kasir yang tersedia."), 422
        response = redirect(url_for("pos.index"))
        response.set_cookie(REGISTER_COOKIE, register.code, max_age=365 * 24 * 3600, httponly=True, samesite="Lax")
        return response
    return render_template("pos/register.html", registers=registers, error=None)


@bp.route("")
@with_register
def index():
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    categories = db.session.scalars(
        db.select(Product.category).where(Product.active.is_(True)).distinct().order_by(Product.category)
    ).all()
    products = db.session.scalars(product_query("", "")).all()
    return render_template("pos/index.html", sale=sale, categories=categories, products=products)


@bp.route("/products")
@with_register
def products():
    search = request.args.get("q", "")[:60]
    category = request.args.get("category", "")[:60]
    items = db.session.scalars(product_query(search, category)).all()
    return render_template("pos/_products.html", products=items, search=search)


@bp.route("/cart")
@with_register
def cart():
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    return cart_response(sale)


@bp.route("/cart/scan", methods=["POST"])
@with_register
def scan():
    text = request.form.get("q", "")[:60]
    prefix = QUANTITY_PREFIX.fullmatch(text)
    quantity, code = (int(prefix[1]), prefix[2].strip()) if prefix else (1, text.strip())
    if not code:
        return toast("Ketik atau pindai barcode.")
    product = sales.find_product_by_code(code)
    if product is None:
        # A search that names exactly one product is as good as its barcode; several: the cashier picks one.
        matches = db.session.scalars(product_query(code, "")).all()
        if len(matches) > 1:
            return choose_one(code, matches)
        if not matches:
            return toast(f"Barcode/SKU “{code[:40]}” tidak dikenal.")
        product = matches[0]
    return cart_action(lambda sale: sales.add_product(sale, product, quantity))


def choose_one(search: str, matches: list[Product]):
    """Several products match what was typed: say so, and show them in the grid to tap."""
    return toast(f"{len(matches)} produk cocok dengan “{search[:40]}”: pilih salah satu.", kind="info",
                 template="pos/_scan_matches.html", products=matches, search=search)


@bp.route("/cart/add/<int:product_id>", methods=["POST"])
@with_register
def add(product_id):
    product = db.session.get(Product, product_id)
    if product is None:
        return toast("Produk tidak ditemukan.")
    return cart_action(lambda sale: sales.add_product(sale, product))


@bp.route("/cart/items/<int:item_id>/quantity", methods=["POST"])
@with_register
def quantity(item_id):
    raw = request.form.get("quantity", "").strip()
    delta = request.form.get("delta", "").strip()

    def change(sale):
        item = next((i for i in sale.items if i.id == item_id), None)
        if item is None:
            raise sales.SaleError("Barang tidak ada di keranjang.")
        try:
            target = item.quantity + int(delta) if delta else int(raw)
        except ValueError:
            raise sales.SaleError("Jumlah harus angka bulat.") from None
        sales.set_quantity(sale, item, target)
        return item

    return cart_action(change)


@bp.route("/cart/items/<int:item_id>/remove", methods=["POST"])
@with_register
def remove(item_id):
    return cart_action(lambda sale: sales.remove_item(sale, item_id))


def discount_approver(sale: Sale, text: str):
    """The supervisor approving a discount over the cashier's limit, when the approval modal names one."""
    return approver_from_form("Discount", sales.cart_label(sale), detail=f"discount={text}")


@bp.route("/cart/items/<int:item_id>/discount", methods=["POST"])
@with_register
def line_discount(item_id):
    text = request.form.get("discount", "")[:20]
    return cart_action(lambda sale: sales.set_line_discount(sale, item_id, text, discount_approver(sale, text)))


@bp.route("/cart/discount", methods=["POST"])
@with_register
def sale_discount():
    text = request.form.get("discount", "")[:20]
    return cart_action(lambda sale: sales.set_sale_discount(sale, text, discount_approver(sale, text)))


@bp.route("/cart/clear", methods=["POST"])
@with_register
def clear():
    return cart_action(sales.clear)


@bp.route("/pay/<method>")
@with_register
def pay_panel(method):
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    if not sale.items:
        return toast("Keranjang masih kosong.")
    if sale.total <= 0:
        return toast(sales.ZERO_TOTAL)
    try:
        shifts.ensure_may_sell(g.register, g.user)
        # Paying another way: the QR on screen must stop being payable first.
        payment_sync.cancel_open_for_sale(sale.id, source="pos")
    except (shifts.ShiftError, payment_service.PaymentError) as exc:
        return toast(str(exc))
    if method == "cash":
        due = tenders.cash_due(sale)[0]
        return render_template("pos/_pay_cash.html", sale=sale,
                               tenders=[amount for amount in QUICK_TENDERS if amount > due])
    if method == "debit":
        return render_template("pos/_pay_debit.html", sale=sale)
    if method == "other":
        return render_template("pos/_pay_other.html", sale=sale)
    return toast("Metode pembayaran tidak dikenal.")


def checkout(pay):
    sale_id = request.form.get("sale_id", type=int) or 0
    target = db.session.get(Sale, sale_id)
    if target is None or target.register_id != g.register.id:
        # Only this register's cart: a stale or crafted id must not cancel or close another till's sale.
        return toast("Transaksi tidak ditemukan.")
    try:
        shifts.ensure_may_sell(g.register, g.user)
        payment_sync.cancel_open_for_sale(sale_id, source="pos")
        sale = pay(sale_id)
    except (shifts.ShiftError, sales.SaleError, payment_service.PaymentError) as exc:
        return toast(str(exc))
    if sale.status == SALE_OPEN:  # a part payment (split tender): what is left to pay, and the cart showing it
        db.session.commit()
        return render_template("pos/_part_paid.html", sale=sale)
    fresh_cart = sales.current_sale(g.register, g.user)
    db.session.commit()
    # The paid screen goes to the modal; the emptied cart replaces the old one out of band.
    return render_template("pos/_paid.html", sale=sale, fresh_cart=fresh_cart)


@bp.route("/checkout/cash", methods=["POST"])
@with_register
def checkout_cash():
    # A quick-tender button sends its amount as `quick`; otherwise the typed amount counts.
    tendered = request.form.get("quick") or request.form.get("tendered", "")
    return checkout(lambda sale_id: tenders.pay_cash(sale_id, tendered[:30], request.form.get("amount", "")[:30]))


@bp.route("/checkout/debit", methods=["POST"])
@with_register
def checkout_debit():
    return checkout(lambda sale_id: tenders.pay_debit(sale_id, request.form.get("edc_reference", "")[:60],
                                                      request.form.get("amount", "")[:30]))


@bp.route("/sales")
@with_register
def todays_sales():
    sales_today = sales.paid_sales_today(g.register)
    return render_template("pos/sales.html", sales_today=sales_today,
                           returns_by_sale=returns.returns_of_sales([sale.id for sale in sales_today]))
