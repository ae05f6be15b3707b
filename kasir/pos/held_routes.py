"""Held bills at the till: park the cart ("Simpan"), list the register's parked carts, resume one ("Lanjutkan")."""
from flask import g, render_template

from .. import held_bills, sales
from ..database import write_transaction
from ..extensions import db
from ..models import HeldBill
from ..web import toast
from .blueprint import bp
from .routes import cart_response, with_register


@bp.app_template_global()
def held_count(register_id: int) -> int:
    """How many carts the register has parked (the cart's "Tersimpan" button shows it)."""
    return db.session.scalar(db.select(db.func.count(HeldBill.id)).where(HeldBill.register_id == register_id))


@bp.route("/held", methods=["POST"])
@with_register
def hold():
    try:
        with write_transaction():
            held_bills.park(sales.current_sale(g.register, g.user), g.user)
            sale = sales.current_sale(g.register, g.user)
            sales.touch_display(g.register.id)
    except sales.SaleError as exc:
        return toast(str(exc))
    return cart_response(sale)


@bp.route("/held")
@with_register
def held_list():
    bills = held_bills.held_bills(g.register)
    return render_template("pos/_held.html", bills=bills)


@bp.route("/held/<int:bill_id>/resume", methods=["POST"])
@with_register
def resume(bill_id: int):
    try:
        with write_transaction():
            sale = held_bills.resume(g.register, g.user, bill_id)
            sales.touch_display(g.register.id)
    except sales.SaleError as exc:
        return toast(str(exc))
    return render_template("pos/_held_resumed.html", sale=sale)
