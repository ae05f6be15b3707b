"""The customer display polls its state every second with the version it shows: 204 while that is
current (one select), the new state when it changed."""
import hmac

from flask import Response, abort, make_response, render_template, request
from sqlalchemy import bindparam, select

from .. import tenders
from ..clock import business_date, utcnow, wib_day_bounds
from ..extensions import db, limiter
from ..logging_setup import log_at_debug
from ..models import SALE_OPEN, SALE_PAID, Register, Sale
from ..payments import states
from ..payments.merchant import qr_identity
from ..payments.models import Payment
from ..poll_cache import first_row
from ..printing.ereceipt import PUBLIC_URL_KEY, public_receipt_url
from ..sales import find_register, screens_version
from ..settings import get_setting, shop_profile
from ..web import is_loopback
from .blueprint import bp

DISPLAY_LINES = 8  # cart lines that fit the display at any 16:9 or 16:10 size (the CSS sizes them by height)


def _may_watch(register, remote_addr: str | None, token: str) -> bool:
    """The display needs no login on the till PC itself; other devices need the register's display token
    (compared as UTF-8 bytes: any text a URL may carry is a wrong token, not an error)."""
    return is_loopback(remote_addr) or bool(register.display_token and
                                            hmac.compare_digest(token.encode(), register.display_token.encode()))


def _register(code: str) -> Register:
    register = find_register(code)
    if register is None:
        abort(404)
    if not _may_watch(register, request.remote_addr, request.args.get("token", "")):
        abort(403)
    return register


def _version(register) -> str:
    thanks = register.display_thanks_until is not None and register.display_thanks_until > utcnow()
    return f"{screens_version(register.display_version)}.{int(thanks)}"


def display_context(register: Register) -> dict:
    version = _version(register)
    context = {"register": register, "version": version, "token": request.args.get("token", ""), "mode": "idle",
               "shop": shop_profile()}
    sale = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == SALE_OPEN))
    payment = None
    if sale is not None:
        payment = db.session.scalar(db.select(Payment).where(Payment.sale_id == sale.id,
                                                             Payment.status == states.PENDING)
                                    .order_by(Payment.created_at.desc()))
    # Money that came but did not pay the sale is said out loud, whatever else the screen shows.
    context["unapplied"] = tenders.unapplied_to_show(register.id, wib_day_bounds(business_date())[0])
    if version.endswith(".1") and not (sale and sale.items):
        context["mode"] = "thanks"
        context["paid_sale"] = db.session.scalar(db.select(Sale).where(Sale.register_id == register.id,
                                                                       Sale.status == SALE_PAID)
                                                 .order_by(Sale.paid_at.desc()))
        if context["paid_sale"] is not None:
            context["receipt_url"] = public_receipt_url(get_setting(PUBLIC_URL_KEY),
                                                        context["paid_sale"].receipt_token)
    elif payment is not None:
        merchant = qr_identity(payment.qr_string) if payment.qr_string else {"name": "", "nmid": None}
        context.update(mode="qris", payment=payment, sale=sale, merchant=merchant)
    elif sale is not None and sale.items:
        context.update(mode="cart", sale=sale, **latest_lines(sale.items))
    return context


def latest_lines(items: list) -> dict:
    """What fits on the display: every line, or the latest ones under "+N barang lainnya" for the rest."""
    if len(items) <= DISPLAY_LINES:
        return {"lines": items, "more_count": 0}
    hidden, shown = items[:-(DISPLAY_LINES - 1)], items[-(DISPLAY_LINES - 1):]
    return {"lines": shown, "more_count": sum(item.quantity for item in hidden)}


@bp.route("/<code>")
def screen(code):
    register = _register(code)
    return render_template("display/index.html", **display_context(register))


# What a poll needs to know whether the display is current (and may watch): one small row. Built once.
_SHOWN = select(Register.display_version, Register.display_thanks_until, Register.display_token) \
    .where(Register.code == bindparam("code"), Register.active.is_(True))


@bp.route("/<code>/state")
@limiter.exempt
def state(code):
    """204 when `?v=` is the current version, 304 when If-None-Match is (a weak ETag), else the new state."""
    shown = first_row(_SHOWN, code=code)
    if shown is None:
        abort(404)
    if not _may_watch(shown, request.remote_addr, request.args.get("token", "")):
        abort(403)
    version = _version(shown)
    if request.args.get("v") == version:
        log_at_debug()
        return "", 204
    if request.if_none_match.contains_weak(version):
        log_at_debug()
        not_modified = Response(status=304)
        not_modified.set_etag(version, weak=True)
        return not_modified
    context = display_context(_register(code))
    response = make_response(render_template("display/_state.html", **context))
    response.set_etag(context["version"], weak=True)
    response.cache_control.no_cache = True
    return response
