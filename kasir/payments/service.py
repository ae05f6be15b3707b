"""Payment rules. `apply_status` is the one way a payment changes state (DESIGN §3).

Webhooks, the background status sync and the cashier's "Cek Status" all end in apply_status, which
locks the payment, ignores a status it already has, checks the transition and the amount, and writes
the state change, its payment_logs row and any sale completion in one transaction.
"""
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func

from .. import audit, sales
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import METHOD_QRIS, SALE_OPEN, SALE_PAID, Sale
from . import states
from .models import Payment, PaymentLog
from .providers import get_provider
from .providers.base import ProviderError, ProviderStatus

log = logging.getLogger(__name__)

SYNC_FAST = timedelta(seconds=3)
SYNC_SLOW = timedelta(seconds=30)
FAST_SYNC_WINDOW = timedelta(minutes=2)


class PaymentError(ValueError):
    """A payment request the rules refuse; the message is for the cashier (Bahasa Indonesia)."""


class AmountMismatch(Exception):
    def __init__(self, expected: int, received: int):
        super().__init__(f"amount {received} does not match payment amount {expected}")
        self.expected = expected
        self.received = received


@dataclass(frozen=True)
class Outcome:
    payment: Payment
    changed: bool
    previous: str


def _lock(payment_id: str) -> Payment:
    payment = db.session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
    if payment is None:
        raise LookupError(payment_id)
    return payment


def _log(payment: Payment, event: str, previous: str | None, source: str, detail: dict | str = "") -> None:
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str, sort_keys=True)
    db.session.add(PaymentLog(payment=payment, event=event, from_status=previous, to_status=payment.status,
                              source=source, detail=text[:2000]))


def _settle_sale(payment: Payment) -> None:
    """A PAID payment closes its sale, unless the sale was already paid: then it is a double payment."""
    if payment.sale_id is None:  # an API payment: no sale to close
        return
    sale = db.session.get(Sale, payment.sale_id, with_for_update=True, populate_existing=True)
    if sale.status == SALE_OPEN:
        sales.mark_paid(sale, METHOD_QRIS)
    else:
        payment.review_reason = "Pembayaran ganda: transaksi sudah lunas, perlu refund."
        sales.touch_display(sale.register_id)


def apply_status(payment: Payment, status: str, *, source: str, amount: int | None = None,
                 provider_ref: str | None = None, raw: dict | None = None, provider_trx_id: str | None = None,
                 qr_string: str | None = None, expires_at: datetime | None = None,
                 error: str | None = None) -> Outcome:
    """Move `payment` to `status` if the state machine allows it; a repeat is a no-op.

    Raises InvalidTransition or AmountMismatch without changing anything.
    """
    with write_transaction():
        payment = _lock(payment.id)
        previous = payment.status
        if previous == status:
            return Outcome(payment, False, previous)
        if amount is not None and amount != payment.amount:
            raise AmountMismatch(payment.amount, amount)
        states.check_transition(previous, status)
        payment.status = status
        detail: dict = {"raw": raw} if raw else {}
        if provider_trx_id:
            payment.provider_trx_id = provider_trx_id
        if qr_string:
            payment.qr_string = qr_string
        if expires_at:
            payment.expires_at = expires_at
        if error:
            payment.error = error[:300]
            detail["error"] = error[:300]
        if provider_ref:
            payment.provider_ref_no = provider_ref[:100]
        if status == states.PAID:
            payment.paid_at = utcnow()
            if previous in (states.EXPIRED, states.CANCELLED):
                payment.late = True
                payment.review_reason = "Pembayaran terlambat: diterima setelah QR kedaluwarsa/dibatalkan."
            _settle_sale(payment)
        elif payment.sale is not None:
            sales.touch_display(payment.sale.register_id)
        _log(payment, f"status:{status.lower()}", previous, source, detail)
        if status == states.PAID and payment.late:
            audit.record("LatePayment", payment.order_id, outcome="review", actor="system",
                         detail=f"amount={payment.amount} source={source}")
    return Outcome(payment, True, previous)


def apply_provider_status(payment: Payment, reported: ProviderStatus, *, source: str) -> Outcome:
    """Apply what the provider says, ignoring reports the state machine cannot take (a stale PENDING…)."""
    try:
        return apply_status(payment, reported.status, source=source, amount=reported.amount if reported.status == states.PAID else None,
                            provider_ref=reported.ref_no, raw=reported.raw)
    except states.InvalidTransition:
        db.session.rollback()
        return Outcome(payment, False, payment.status)


def _order_id(sale: Sale, attempt: int) -> str:
    return f"POS-{sale.register.code}-{sale.business_date:%y%m%d}-{sale.number:04d}-{attempt}"


def open_payment_for_sale(sale_id: int) -> Payment | None:
    return db.session.scalar(db.select(Payment).where(Payment.sale_id == sale_id, Payment.status == states.PENDING)
                             .order_by(Payment.created_at.desc()))


def create_for_sale(sale_id: int) -> Payment:
    """Make a new dynamic QR for the exact total of an OPEN sale (each QR is its own payment)."""
    max_amount = current_app.config["QRIS_MAX_AMOUNT"]
    expires_at = utcnow() + timedelta(minutes=current_app.config["EXPIRE_MINUTES"])
    with write_transaction():
        sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        if sale is None or sale.status != SALE_OPEN:
            raise PaymentError("Transaksi ini sudah ditutup.")
        if not sale.items or sale.total <= 0:
            raise PaymentError("Keranjang masih kosong.")
        if sale.total > max_amount:
            raise PaymentError(f"Total melebihi batas QRIS ({max_amount:,}).".replace(",", "."))
        sales.reserve_number(sale)
        attempt = 1 + (db.session.scalar(db.select(func.count(Payment.id)).where(Payment.sale_id == sale.id)) or 0)
        payment = Payment(order_id=_order_id(sale, attempt), amount=sale.total, currency="IDR", status=states.CREATED,
                          provider=current_app.config["PROVIDER"], sale_id=sale.id, attempt=attempt,
                          expires_at=expires_at, next_sync_at=utcnow() + SYNC_FAST)
        db.session.add(payment)
        db.session.flush()
        _log(payment, "created", None, "pos", {"amount": payment.amount})
        audit.record("GenerateQR", payment.order_id, detail=f"amount={payment.amount}")
    return request_charge(payment)


def request_charge(payment: Payment) -> Payment:
    """Ask the provider for the QR of a CREATED payment; PENDING with the QR, or FAILED with the reason."""
    try:
        charge = get_provider(payment.provider).create_qr(payment.order_id, payment.amount, payment.expires_at)
    except ProviderError as exc:
        db.session.rollback()
        apply_status(payment, states.FAILED, source="provider", error=exc.message)
        raise PaymentError(exc.message) from exc
    apply_status(payment, states.PENDING, source="provider", provider_trx_id=charge.provider_trx_id,
                 qr_string=charge.qr_string, expires_at=charge.expires_at)
    return payment


def check_status(payment: Payment, *, source: str) -> Outcome:
    """Ask the provider now ("Cek Status", the sync job) and apply the answer."""
    reported = get_provider(payment.provider).fetch_status(payment)
    db.session.commit()
    return apply_provider_status(payment, reported, source=source)


def cancel(payment: Payment, *, source: str) -> Outcome:
    """Cancel a PENDING payment; the provider is asked first, and a payment it reports paid becomes PAID."""
    if payment.status != states.PENDING:
        return Outcome(payment, False, payment.status)
    provider = get_provider(payment.provider)
    try:
        reported = provider.fetch_status(payment)
        if reported.status != states.PAID:
            reported = provider.cancel(payment)
        db.session.commit()
    except ProviderError as exc:
        # The till must not hang on the gateway: cancel here; a payment that still arrives is a flagged late one.
        db.session.rollback()
        log.warning("cancel of %s without provider confirmation: %s", payment.order_id, exc.message)
        return apply_status(payment, states.CANCELLED, source=source, error=f"provider unreachable: {exc.message}")
    if reported.status == states.PAID:
        return apply_provider_status(payment, reported, source=source)
    return apply_status(payment, states.CANCELLED, source=source, raw=reported.raw)


def cancel_open_for_sale(sale_id: int, *, source: str) -> None:
    """Before a sale is paid another way, the QR on screen must stop being payable."""
    while (payment := open_payment_for_sale(sale_id)) is not None:
        outcome = cancel(payment, source=source)
        if outcome.payment.status == states.PAID:
            raise PaymentError("QRIS untuk transaksi ini ternyata sudah dibayar.")


def regenerate(payment: Payment) -> Payment:
    """A fresh QR for the same sale: cancel the old one if it is still open, then create a new payment."""
    if payment.sale_id is None:
        raise PaymentError("Pembayaran ini tidak terkait transaksi kasir.")
    outcome = cancel(payment, source="pos")
    if outcome.payment.status == states.PAID:
        raise PaymentError("QR sebelumnya sudah dibayar.")
    return create_for_sale(payment.sale_id)


def expire_due(now: datetime | None = None) -> int:
    """PENDING payments past expires_at: PAID if the provider says so, otherwise EXPIRED."""
    now = now or utcnow()
    due = db.session.scalars(db.select(Payment).where(Payment.status == states.PENDING, Payment.expires_at <= now)
                             .limit(100)).all()
    expired = 0
    for payment in due:
        try:
            provider = get_provider(payment.provider)
            reported = provider.fetch_status(payment)
            if reported.status == states.PENDING:
                reported = provider.cancel(payment)
            db.session.commit()
        except ProviderError as exc:
            db.session.rollback()
            log.warning("expiry check of %s failed: %s", payment.order_id, exc.message)
            continue
        if reported.status == states.PAID:
            apply_provider_status(payment, reported, source="expiry")
        else:
            outcome = apply_status(payment, states.EXPIRED, source="expiry", raw=reported.raw)
            expired += outcome.changed
    return expired


def sync_pending(now: datetime | None = None, limit: int = 50) -> int:
    """Poll the provider for PENDING payments whose next sync is due; back off from 3 s to 30 s."""
    now = now or utcnow()
    due = db.session.scalars(db.select(Payment).where(Payment.status == states.PENDING, Payment.next_sync_at <= now)
                             .order_by(Payment.next_sync_at).limit(limit)).all()
    changed = 0
    for payment in due:
        interval = SYNC_FAST if now - payment.created_at < FAST_SYNC_WINDOW else SYNC_SLOW
        payment.next_sync_at = now + interval
        payment.sync_count += 1
        db.session.commit()
        try:
            changed += check_status(payment, source="sync").changed
        except ProviderError as exc:
            db.session.rollback()
            log.info("status sync of %s failed: %s", payment.order_id, exc.message)
    return changed


def paid_payment_for_sale(sale: Sale) -> Payment | None:
    if sale.status != SALE_PAID or sale.method != METHOD_QRIS:
        return None
    return db.session.scalar(db.select(Payment).where(Payment.sale_id == sale.id, Payment.status.in_(
        [states.PAID, states.REFUNDED])).order_by(Payment.paid_at))
