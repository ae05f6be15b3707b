"""Payment state changes. `apply_status` is the one way a payment changes state (DESIGN §3).

Webhooks, the background status sync and the cashier's "Cek Status" all end in apply_status, which
locks the payment, ignores a status it already has, checks the transition and the amount, and writes
the state change, its payment_logs row, its callback and any sale completion in one transaction.
Creating charges lives in kasir.payments.charges, asking the gateway in kasir.payments.sync, refunds in
kasir.payments.refunds.
"""
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import inspect

from .. import audit, sales, tenders
from ..clock import utcnow
from ..database import locked_get, primary_key, write_transaction
from ..extensions import db
from ..models import Sale
from ..money import format_rupiah
from . import callbacks, states
from .models import Payment, PaymentLog
from .providers import provider_class
from .providers.base import ProviderStatus


class PaymentError(ValueError):
    """A payment request the rules refuse; the message is for the cashier (Bahasa Indonesia)."""


class AmountMismatch(Exception):
    def __init__(self, expected: int, received: int):
        super().__init__(f"amount {received} does not match payment amount {expected}")
        self.expected = expected
        self.received = received


@dataclass(frozen=True)
class Outcome:
    payment: Payment  # as stored now
    changed: bool
    previous: str


def locked(payment_id: str) -> Payment:
    """Inside a write transaction: the payment, its row locked (PostgreSQL FOR UPDATE; SQLite holds the
    write lock already) and read again, unless this transaction has locked it already. Raises LookupError for an
    unknown id."""
    payment = locked_get(Payment, payment_id)
    if payment is None:
        raise LookupError(payment_id)
    return payment


def log_event(payment: Payment, event: str, previous: str | None, source: str, detail: dict | str = "") -> None:
    """Add the payment's log row to the current transaction."""
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str, sort_keys=True)
    db.session.add(PaymentLog(payment_id=payment.id, event=event, from_status=previous, to_status=payment.status,
                              source=source, detail=text[:2000]))


def _settle_sale(payment: Payment, previous: str) -> str | None:
    """A PAID payment settles its own amount of its sale (the money rule, kasir.tenders); the review reason
    of any money the sale did not take, else None."""
    sale = db.session.get(Sale, payment.sale_id, with_for_update=True, populate_existing=True)
    return tenders.settle_payment(sale, payment, previous)


def apply_status(payment: Payment, status: str, *, source: str, amount: int | None = None,
                 provider_ref: str | None = None, raw: dict | None = None, provider_trx_id: str | None = None,
                 qr_string: str | None = None, expires_at: datetime | None = None,
                 error: str | None = None, meta: dict | None = None, instructions: dict | None = None) -> Outcome:
    """Move `payment` to `status` if the state machine allows it; a repeat is a no-op. Either way the
    outcome's payment is the row as stored (locked).

    Raises InvalidTransition or AmountMismatch without changing anything.
    """
    with write_transaction():
        # A payment this transaction added and has not flushed is not in the table yet: nobody else sees it.
        payment = payment if inspect(payment).pending else locked(primary_key(payment))
        previous = payment.status
        if previous == status:
            return Outcome(payment, False, previous)
        if amount is not None and amount != payment.amount:
            raise AmountMismatch(payment.amount, amount)
        states.check_transition(previous, status)
        detail: dict = {"raw": raw} if raw else {}
        payment.status = status
        if provider_trx_id:
            payment.provider_trx_id = provider_trx_id
        if qr_string:
            payment.qr_string = qr_string
        if instructions:
            payment.instructions = {**(payment.instructions or {}), **instructions}
        if expires_at:
            payment.expires_at = expires_at
        if error:
            payment.error = detail["error"] = error[:300]
        if meta:
            payment.meta = {**(payment.meta or {}), **meta}
        if provider_ref:
            payment.provider_ref_no = provider_ref[:100]
        if status == states.PAID:
            payment.paid_at = utcnow()
            if previous in (states.EXPIRED, states.CANCELLED):
                payment.late, payment.review_reason = True, tenders.LATE_PAYMENT
            if payment.sale_id is not None and (review_reason := _settle_sale(payment, previous)):
                payment.review_reason = review_reason
        elif payment.sale_id is not None:
            sales.touch_display(db.session.get(Sale, payment.sale_id).register_id)
        log_event(payment, f"status:{status.lower()}", previous, source, detail)
        callbacks.enqueue(payment)  # an outbox row in this transaction; a job sends it later
        if status == states.PAID and payment.late:
            audit.record("LatePayment", payment.order_id, outcome="review", actor="system",
                         detail=f"amount={payment.amount} source={source}")
    return Outcome(payment, True, previous)


def apply_provider_status(payment: Payment, reported: ProviderStatus, *, source: str) -> Outcome:
    """Apply what the provider says, ignoring reports the state machine cannot take (a stale PENDING…)."""
    if reported.status == payment.status:
        # Nothing to change (a newer state would refuse this report anyway): no write lock needed.
        return Outcome(payment, False, payment.status)
    try:
        return apply_status(payment, reported.status, source=source,
                            amount=reported.amount if reported.status == states.PAID else None,
                            provider_ref=reported.ref_no, raw=reported.raw)
    except states.InvalidTransition:
        db.session.rollback()
        return Outcome(payment, False, payment.status)


def open_payment_for_sale(sale_id: int) -> Payment | None:
    return db.session.scalar(db.select(Payment).where(Payment.sale_id == sale_id, Payment.status == states.PENDING)
                             .order_by(Payment.created_at.desc()))


def use_late_payment(payment: Payment, *, source: str = "pos") -> Payment:
    """"Pakai untuk transaksi ini": the cashier applies a late payment to its still-open sale, audited.

    Raises PaymentError when it cannot be applied (not a late payment, used already, the sale closed, or
    another QR is open for the sale).
    """
    with write_transaction():
        payment = locked(primary_key(payment))
        if payment.status != states.PAID or not payment.late or payment.sale_id is None:
            raise PaymentError("Hanya pembayaran terlambat yang bisa dipakai untuk transaksi.")
        if tenders.unapplied_amount(payment) != payment.amount:
            raise PaymentError("Pembayaran ini sudah dipakai untuk transaksi.")
        sale = db.session.get(Sale, payment.sale_id, with_for_update=True, populate_existing=True)
        if (open_payment := open_payment_for_sale(sale.id)) is not None:
            raise PaymentError(f"QR aktif {format_rupiah(open_payment.amount)}. Batalkan QR dulu.")
        try:
            payment.review_reason = tenders.apply_late_payment(sale, payment)
        except sales.SaleError as exc:
            raise PaymentError(str(exc)) from None
        log_event(payment, "applied_to_sale", payment.status, source, {"sale": sale.id, "due_after": tenders.due(sale)})
        audit.record("UseLatePayment", payment.order_id, detail=f"sale={sale.id} amount={payment.amount}")
    return payment


def confirm_by_cashier(payment: Payment, *, cashier, pin: str) -> Outcome:
    """A static QRIS has no gateway to tell us: the cashier saw the money arrive and confirms with their PIN.

    Raises PaymentError (wrong provider, wrong PIN, nothing to confirm); every attempt is audited.
    """
    if provider_class(payment.provider).confirms_payments:
        raise PaymentError("Pembayaran ini dikonfirmasi otomatis oleh gateway.")
    if not (cashier.check_pin(pin) if cashier.pin_hash else cashier.check_password(pin)):
        audit.record("ConfirmStaticPayment", payment.order_id, outcome="denied", detail="wrong PIN")
        db.session.commit()
        raise PaymentError("PIN salah. Pembayaran belum dikonfirmasi.")
    try:
        outcome = apply_status(payment, states.PAID, source="cashier", amount=payment.amount,
                               raw={"confirmed_by": cashier.username})
    except states.InvalidTransition:
        db.session.rollback()
        raise PaymentError(f"Pembayaran ini sudah {payment.status_label.lower()}.") from None
    audit.record("ConfirmStaticPayment", payment.order_id, detail=f"amount={payment.amount} late={payment.late}")
    db.session.commit()
    return outcome
