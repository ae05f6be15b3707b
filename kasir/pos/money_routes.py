"""The till's money bar (DESIGN §3, §8): an open QR, what is left of a part-paid sale, and money that did
not fit (late, double, extra), shown until dealt with, also after Esc or a reload. It polls every 2 s and
answers 204 while nothing it shows changed."""
from flask import g, render_template, request

from .. import audit, sales, tenders
from ..clock import business_date, wib_day_bounds
from ..extensions import db, limiter
from ..logging_setup import log_at_debug
from ..payments import service, sync
from ..payments.models import Payment
from ..poll_cache import remembered
from ..web import toast
from .blueprint import bp
from .qris_routes import qris_limit, with_payment
from .routes import with_register


def money_context(sale) -> dict:
    """What the bar shows for the register's cart, and the key that changes whenever any of it does."""
    open_payment = service.open_payment_for_sale(sale.id)
    received = tenders.received(sale)
    unapplied = tenders.unapplied_to_show(g.register.id, wib_day_bounds(business_date())[0])
    key = "-".join([str(sale.id), open_payment.id if open_payment else "", str(received),
                    *(f"{payment.id}:{payment.review_reason}" for payment, _ in unapplied)])
    return {"sale": sale, "open_payment": open_payment, "received": received, "due": tenders.due(sale),
            "unapplied": unapplied, "key": key}


def _current_key() -> str:
    """The key the bar would be rendered with now, read only: a commit here would clear the poll cache it is
    kept in (a cart that does not exist yet is rolled back; the render that follows a new key creates it)."""
    key = money_context(sales.current_sale(g.register, g.user))["key"]
    db.session.rollback()
    return key


def bar_response(sale=None, *, with_cart: bool = True):
    sale = sale or sales.current_sale(g.register, g.user)
    db.session.commit()
    return render_template("pos/_money_bar.html", **money_context(sale), with_cart=with_cart)


@bp.route("/money")
@limiter.exempt
@with_register
def money_bar():
    """The bar's 2-second poll: 204 while its `?key=` is current. The key is remembered by the poll cache (until
    anything is committed here, at most a second for another process's commit), so a steady poll runs no query."""
    if request.args.get("key") == remembered(("money-bar", db.engine, g.register.id), _current_key):
        log_at_debug()
        return "", 204
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    context = money_context(sale)
    # The first render comes with the page's cart; a change later brings the cart along (paid, part-paid, unlocked).
    return render_template("pos/_money_bar.html", **context, with_cart="key" in request.args)


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
