"""The customer display polls its state every second; 204 when nothing changed (one small query)."""
import hmac
import ipaddress

from flask import abort, render_template, request

from ..clock import utcnow
from ..extensions import db, limiter
from ..models import SALE_OPEN, SALE_PAID, Register, Sale
from ..sales import find_register
from ..payments import states
from ..payments.merchant import merchant_identity
from ..payments.models import Payment
from ..settings import shop_profile
from . import bp


def _is_loopback() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def _register(code: str) -> Register:
    """The display needs no login on the till PC itself; other devices need the register's display token."""
    register = find_register(code)
    if register is None:
        abort(404)
    if not _is_loopback():
        token = request.args.get("token", "")
        if not register.display_token or not hmac.compare_digest(token, register.display_token):
            abort(403)
    return register


def _version(register: Register) -> str:
    thanks = register.display_thanks_until is not None and register.display_thanks_until > utcnow()
    return f"{register.display_version}.{int(thanks)}"


def display_context(register: Register) -> dict:
    version = _version(register)
    context = {"register": register, "version": version, "token": request.args.get("token", ""), "mode": "idle",
               "shop": shop_profile()}
    sale = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == SALE_OPEN))
    payment = None
    if sale is not None:
        payment = db.session.scalar(db.select(Payment).where(Payment.sale_id == sale.id, Payment.status == states.PENDING)
                                    .order_by(Payment.created_at.desc()))
    if version.endswith(".1") and not (sale and sale.items):
        context["mode"] = "thanks"
        context["paid_sale"] = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == SALE_PAID)
                                                 .order_by(Sale.paid_at.desc()))
    elif payment is not None:
        context.update(mode="qris", payment=payment, sale=sale, merchant=merchant_identity())
    elif sale is not None and sale.items:
        context.update(mode="cart", sale=sale)
    return context


@bp.route("/<code>")
def screen(code):
    register = _register(code)
    return render_template("display/index.html", **display_context(register))


@bp.route("/<code>/state")
@limiter.exempt
def state(code):
    register = _register(code)
    if request.args.get("v") == _version(register):
        return "", 204
    return render_template("display/_state.html", **display_context(register))
