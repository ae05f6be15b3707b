"""QRIS at the till: the modal, its 1-second status poll, manual check, cancel and a fresh QR."""
import functools

from flask import current_app, g, make_response, render_template, request
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from .. import audit, sales, tenders
from ..auth import login_required, session_required
from ..extensions import db, limiter
from ..logging_setup import log_at_debug
from ..models import PRINT_PRINTED, Register, Sale
from ..payments import charges, methods, service, states, sync
from ..payments.gateway_settings import active_provider_name
from ..payments.merchant import qr_identity
from ..payments.models import Payment
from ..payments.providers import provider_class
from ..payments.providers.base import ProviderError
from ..poll_cache import first_row
from ..printing import queue as print_queue
from ..printing.backends import PrinterError
from ..reports import shifts
from ..web import nothing_new, toast
from .blueprint import bp
from .routes import REGISTER_COOKIE, with_register

# htmx 2 stops polling on 286; the final partial also has no hx-trigger, so htmx 4 stops too (DESIGN §8).
STOP_POLLING = 286


def with_payment(view):
    """Resolve <payment_id> to a payment of this register's sales; 404 for anything else."""

    @functools.wraps(view)
    def wrapped(payment_id):
        payment = db.session.get(Payment, payment_id, options=[joinedload(Payment.sale)])  # one query, not two
        if payment is None or payment.sale is None or payment.sale.register_id != g.register.id:
            return toast("Pembayaran tidak ditemukan.", 404)
        return view(payment)

    return wrapped


def cashier_confirms(payment: Payment) -> bool:
    """A static QRIS: no gateway reports the payment, the cashier confirms it ("Sudah Dibayar")."""
    return not provider_class(payment.provider).confirms_payments


@bp.app_template_filter()
def poll_version(payment) -> str:
    """What a waiting QR's status partial depends on, put in its poll URL as `?v=` so that an unchanged
    status answers nothing new (htmx swaps nothing; the page's script keeps the countdown running)."""
    return f"{payment.status}.{payment.expires_at.timestamp():.0f}"


def status_response(payment: Payment):
    if payment.status not in states.FINAL_FOR_SCREEN:
        return render_template("pos/_qris_status.html", payment=payment, cashier_confirms=cashier_confirms(payment))
    fresh_cart = sales.current_sale(g.register, g.user) if payment.status == states.PAID else None
    db.session.commit()
    body = render_template("pos/_qris_final.html", payment=payment, fresh_cart=fresh_cart,
                           cashier_confirms=cashier_confirms(payment))
    return make_response(body, STOP_POLLING)


def render_modal(payment: Payment):
    merchant = qr_identity(payment.qr_string) if payment.qr_string else {"name": "", "nmid": None}
    return render_template("pos/_qris.html", payment=payment, merchant=merchant,
                           cashier_confirms=cashier_confirms(payment), sale=payment.sale,
                           methods=methods)


def qris_limit(name):
    return lambda: current_app.config[name]


@bp.route("/checkout/qris", methods=["POST"])
@limiter.limit(qris_limit("QR_RATE_LIMIT"))
@with_register
def checkout_qris():
    return _checkout(methods.QRIS)


@bp.route("/checkout/va", methods=["POST"])
@limiter.limit(qris_limit("QR_RATE_LIMIT"))
@with_register
def checkout_va():
    """"Transfer VA": a virtual account at the bank the customer chose, shown like a QR (poll, countdown)."""
    bank = request.form.get("bank", "")
    if bank not in methods.BANKS:
        return toast("Pilih bank untuk VA.")
    return _checkout(methods.VA, bank)


@bp.route("/checkout/link", methods=["POST"])
@limiter.limit(qris_limit("QR_RATE_LIMIT"))
@with_register
def checkout_link():
    """"Bayar via HP": a payment page the customer opens from a QR on the display."""
    return _checkout(methods.LINK)


def _checkout(method: str, bank: str | None = None):
    if method not in provider_class(active_provider_name()).methods:
        return toast("Metode pembayaran ini tidak tersedia di penyedia pembayaran toko.")
    sale = sales.current_sale(g.register, g.user)
    db.session.commit()
    try:
        shifts.ensure_may_sell(g.register, g.user)
    except shifts.ShiftError as exc:
        return toast(str(exc))
    open_payment = service.open_payment_for_sale(sale.id)
    try:
        amount = tenders.parse_amount(request.form.get("amount"), "Nominal QRIS")
        same = (open_payment is not None and (open_payment.method or "qris") == method
                and (open_payment.instructions or {}).get("va", {}).get("bank") == bank)
        if same and amount in (None, open_payment.amount):
            payment = open_payment  # the QR on the customer's screen, shown again
        else:
            if open_payment is not None:  # another amount for this step: that QR stops being payable first
                if sync.cancel(open_payment, source="pos").payment.status == states.PAID:
                    return toast("QR sebelumnya ternyata sudah dibayar.")
            payment = charges.create_for_sale(sale.id, amount, method=method, bank=bank)
    except (service.PaymentError, sales.SaleError) as exc:
        db.session.rollback()
        return toast(str(exc))
    return render_modal(payment)


# What a waiting QR's status partial shows, for a payment of this browser's (active) register. Built once.
_WAITING = select(Payment.id, Payment.status, Payment.expires_at, Payment.provider, Payment.method) \
    .join(Sale, Sale.id == Payment.sale_id).join(Register, Register.id == Sale.register_id) \
    .where(Payment.id == bindparam("payment_id"), Register.code == bindparam("register"), Register.active.is_(True))


@bp.route("/payments/<payment_id>/status")
@limiter.exempt
@session_required
def payment_status(payment_id):
    """The till's 1-second poll: one select while the QR waits, nothing new while its `?v=` is current; a final state
    (or no such payment here) goes through the register and payment checks of the other QR routes."""
    waiting = first_row(_WAITING, payment_id=payment_id, register=request.cookies.get(REGISTER_COOKIE, ""))
    if waiting is None or waiting.status in states.FINAL_FOR_SCREEN:
        return final_status(payment_id=payment_id)
    log_at_debug()
    if request.args.get("v") == poll_version(waiting):
        return nothing_new()
    return render_template("pos/_qris_status.html", payment=waiting, cashier_confirms=cashier_confirms(waiting))


@login_required
@with_register
@with_payment
def final_status(payment):
    return status_response(payment)


@bp.route("/payments/<payment_id>/check", methods=["POST"])
@limiter.limit(qris_limit("CHECK_RATE_LIMIT"))
@with_register
@with_payment
def payment_check(payment):
    try:
        sync.check_status(payment, source="manual")
    except ProviderError as exc:
        db.session.rollback()
        audit.record("CheckStatus", payment.order_id, outcome="failed", detail=exc.message)
        db.session.commit()
        return toast(f"Cek status gagal: {exc.message}")
    audit.record("CheckStatus", payment.order_id, detail=f"status={payment.status}")
    db.session.commit()
    return status_response(payment)


@bp.route("/payments/<payment_id>/cancel", methods=["POST"])
@limiter.limit(qris_limit("CANCEL_RATE_LIMIT"))
@with_register
@with_payment
def payment_cancel(payment):
    outcome = sync.cancel(payment, source="pos")
    audit.record("CancelPayment", payment.order_id, detail=f"status={outcome.payment.status}")
    db.session.commit()
    return status_response(payment)


@bp.route("/payments/<payment_id>/regenerate", methods=["POST"])
@limiter.limit(qris_limit("QR_RATE_LIMIT"))
@with_register
@with_payment
def payment_regenerate(payment):
    try:
        fresh = charges.regenerate(payment)
    except service.PaymentError as exc:
        db.session.rollback()
        return toast(str(exc))
    return render_modal(fresh)


@bp.route("/payments/<payment_id>/confirm", methods=["POST"])
@limiter.limit(qris_limit("CONFIRM_RATE_LIMIT"))
@with_register
@with_payment
def payment_confirm(payment):
    """"Sudah Dibayar" for a static QRIS, after the cashier saw the money arrive; their PIN is required."""
    try:
        service.confirm_by_cashier(payment, cashier=g.user, pin=request.form.get("pin", ""))
    except service.PaymentError as exc:
        db.session.rollback()
        return toast(str(exc))
    return status_response(payment)


@bp.route("/payments/<payment_id>/print-va", methods=["POST"])
@limiter.limit(qris_limit("CHECK_RATE_LIMIT"))
@with_register
@with_payment
def payment_print_va(payment):
    """"Cetak Nomor VA": a slip with bank, number, amount and expiry, through the print queue."""
    if payment.method != methods.VA or not payment.instructions:
        return toast("Pembayaran ini bukan Virtual Account.")
    try:
        job = print_queue.print_va_slip(payment.sale)
    except PrinterError as exc:
        return toast(str(exc), 409)
    if job.status == PRINT_PRINTED:
        return toast("Nomor VA dicetak.", 200, "success")
    return toast("Nomor VA belum tercetak: printer tidak menjawab; dicoba lagi otomatis.", 202)
