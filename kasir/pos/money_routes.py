"""The till's money bar (DESIGN §3, §8): an open QR, what is left of a part-paid sale, and money that did
not fit (late, double, extra), shown until dealt with, also after Esc or a reload. It polls every 2 s and
answers "nothing new" while nothing it shows changed."""
from flask import g, render_template, request
from sqlalchemy import bindparam, select

from .. import audit, sales, tenders
from ..auth import session_required
from ..clock import business_date, wib_day_bounds
from ..extensions import db, limiter
from ..logging_setup import log_at_debug
from ..models import Register
from ..payments import service, sync
from ..payments.models import Payment
from ..poll_cache import first_row
from ..web import nothing_new, toast
from .blueprint import bp
from .qris_routes import qris_limit, with_payment
from .routes import REGISTER_COOKIE, with_register

# The register's screen version: sales.touch_display moves it on with every change of its cart, its QR, the money
# taken and unapplied money, so the bar's poll reads one small row. Built once.
_SCREENS_VERSION = select(Register.display_version) \
    .where(Register.code == bindparam("register"), Register.active.is_(True))


def money_context(sale) -> dict:
    """What the bar shows for the register's cart; `key`, which changes whenever any of it does; and `version`,
    the screens' version it was read at (first: a change landing meanwhile makes it older, never newer)."""
    version = sales.screens_version(g.register.display_version)
    open_payment = service.open_payment_for_sale(sale.id)
    received = tenders.received(sale)
    unapplied = tenders.unapplied_to_show(g.register.id, wib_day_bounds(business_date())[0])
    key = "-".join([str(sale.id), open_payment.id if open_payment else "", str(received),
                    *(f"{payment.id}:{payment.review_reason}" for payment, _ in unapplied)])
    return {"sale": sale, "open_payment": open_payment, "received": received, "due": tenders.due(sale),
            "unapplied": unapplied, "key": key, "version": version}


def bar_response(sale=None, *, with_cart: bool = True):
    sale = sale or sales.current_sale(g.register, g.user)
    db.session.commit()
    return render_template("pos/_money_bar.html", **money_context(sale), with_cart=with_cart)


@bp.route("/money")
@limiter.exempt
@session_required
def money_bar():
    """The bar's 2-second poll: one select (or none, from the poll cache) and nothing new while its `?v=` is the
    register's screen version; after a change the bar is rendered through the register and cart checks."""
    shown = first_row(_SCREENS_VERSION, register=request.cookies.get(REGISTER_COOKIE, ""))
    if shown is not None and request.args.get("v") == sales.screens_version(shown.display_version):
        log_at_debug()
        return nothing_new()
    return _changed_bar()


@with_register
def _changed_bar():
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    context = money_context(sale)
    # A change of what the bar shows brings the cart along (paid, part-paid, unlocked); a scan, which moves the
    # version on too, does not. The first render comes with the page's cart.
    shown_key = request.args.get("key")
    return render_template("pos/_money_bar.html", **context, with_cart=shown_key not in (None, context["key"]))


@bp.route("/money/cancel-qr", methods=["POST"])
@limiter.limit(qris_limit("CANCEL_RATE_LIMIT"))
@with_register
def cancel_open_qr():
    """The bar's "Batalkan QR": the gateway is asked first; a QR it reports paid is settled instead."""
    sale = sales.current_sale(g.register, g.user)
    payment = service.open_payment_for_sale(sale.id)
    if payment is not None:
        outcome = sync.cancel(payment, source="pos")
        audit.record("CancelPayment", payment.order_id, detail=f"status={outcome.payment.status}")
    return bar_response()


@bp.route("/money/payments/<payment_id>/use", methods=["POST"])
@with_register
@with_payment
def use_late_payment(payment: Payment):
    """"Pakai untuk transaksi ini": a late payment pays its still-open sale (audited)."""
    try:
        service.use_late_payment(payment)
    except service.PaymentError as exc:
        db.session.rollback()
        return toast(str(exc))
    return bar_response()


@bp.route("/money/payments/<payment_id>/acknowledge", methods=["POST"])
@with_register
@with_payment
def acknowledge_unapplied(payment: Payment):
    """"Catat untuk refund": the banner goes; the payment stays on the refund list of the reports (audited)."""
    if tenders.unapplied_amount(payment):
        tenders.acknowledge_unapplied(payment)
    return bar_response()
