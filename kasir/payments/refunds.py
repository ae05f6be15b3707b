"""Refunds: money given back for a PAID payment, in parts or at once, and the refunds of a period."""
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from .. import audit, tenders
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..money import format_rupiah
from . import states
from .models import Payment, PaymentLog
from .providers import get_provider
from .providers.base import ProviderError
from .service import Outcome, PaymentError, apply_status, locked, log_event

REFUND_EVENT = "refund"  # the payment_logs event of one refund (partial or the last one); reports add these up


def refunds_of(payment) -> list[dict]:
    """The refunds made for a payment, oldest first: {amount, reason, by, at, refund_key} each.

    Payments refunded before partial refunds were itemized keep their one refund as meta["refund"]."""
    meta = payment.meta or {}
    if "refunds" in meta:
        return list(meta["refunds"])
    return [meta["refund"]] if meta.get("refund") else []


def refunded_amount(payment) -> int:
    """Rupiah given back for a payment so far, 0 if none (a refund made at the gateway itself: all of it)."""
    given = sum(int(entry["amount"]) for entry in refunds_of(payment))
    return given or (payment.amount if payment.status == states.REFUNDED else 0)


def refund(payment: Payment, amount: int, reason: str, actor: str, *, refund_key: str | None = None,
           for_return: bool = False) -> Outcome:
    """Give back `amount` of a PAID payment, once the provider accepts it; audited either way.

    Several partial refunds may follow one another up to the amount paid: each is kept in the payment's
    metadata ("refunds") and its log; the payment stays PAID until the refunds reach its amount, and
    only then goes PAID → REFUNDED (DESIGN §3). Raises PaymentError for a request the rules refuse and
    ProviderError (sanitized) when the gateway refuses. A caller's `refund_key` makes it idempotent: a key
    already among the payment's refunds is not sent again. `for_return` marks a till return's refund
    (kasir/returns.py), which the day report counts as a return, not as a refund.
    """
    reason = " ".join(reason.split())[:200]
    if refund_key and any(entry.get("refund_key") == refund_key for entry in refunds_of(payment)):
        return Outcome(payment, False, payment.status)  # asked and answered before: never twice
    if payment.status != states.PAID:
        raise PaymentError("Hanya pembayaran yang lunas yang bisa direfund.")
    left = payment.amount - refunded_amount(payment)
    if not 0 < amount <= left:
        raise PaymentError(
            f"Nominal refund harus antara Rp 1 dan {format_rupiah(left)} (sisa yang belum dikembalikan).")
    if not reason:
        raise PaymentError("Isi alasan refund.")
    refund_key = refund_key or f"RF-{payment.order_id[-30:]}-{secrets.token_hex(4)}"
    try:
        reported = get_provider(payment.provider).refund(payment, amount, reason, refund_key)
        db.session.commit()
    except ProviderError as exc:
        db.session.rollback()
        audit.record("Refund", payment.order_id, outcome="refused", actor=actor,
                     detail=f"amount={amount} code={exc.code} error={exc.message}")
        db.session.commit()
        raise
    entry = {"amount": amount, "reason": reason, "refund_key": refund_key, "by": actor, "at": utcnow().isoformat(),
             **({"for_return": True} if for_return else {})}
    with write_transaction():
        # The gateway gave the money back: it is recorded even if another refund landed meanwhile (once per key).
        payment = locked(payment.id)
        if any(item.get("refund_key") == refund_key for item in refunds_of(payment)):
            return Outcome(payment, False, payment.status)
        refunds = [*refunds_of(payment), entry]
        log_event(payment, REFUND_EVENT, payment.status, "admin", {"refund": entry, "provider": reported.raw})
        if payment.status == states.PAID and sum(int(item["amount"]) for item in refunds) >= payment.amount:
            outcome = apply_status(payment, states.REFUNDED, source="admin", meta={"refunds": refunds})
        else:
            payment.meta = {**(payment.meta or {}), "refunds": refunds}
            outcome = Outcome(payment, False, payment.status)
        audit.record("Refund", payment.order_id, actor=actor, detail=f"amount={amount} of {payment.amount} "
                     f"refunded={sum(int(item['amount']) for item in refunds)}")
    return outcome


@dataclass(frozen=True)
class Refunds:
    count: int
    total: int
    of_sales: int  # of the total, money sales had taken (the rest: money no sale took, or API payments)


def refunds_between(start: datetime, end: datetime) -> Refunds:
    """The refunds made in [start, end), for the day's report: each partial refund counts on its own day (a till
    return's refund counts with the returns, not here). A
    payment refunded at the gateway (REFUNDED with no refund of ours) counts its whole amount on the day it
    changed. A sale payment's refunds give back its unapplied money first (kasir.tenders): only what goes
    beyond it takes money back from a sale; an API payment's refunds take nothing from the till's sales."""
    logged = db.session.execute(db.select(PaymentLog.payment_id, PaymentLog.event, PaymentLog.detail).where(
        PaymentLog.event.in_([REFUND_EVENT, f"status:{states.REFUNDED.lower()}"]),
        PaymentLog.at >= start, PaymentLog.at < end).order_by(PaymentLog.at, PaymentLog.id)).all()
    entries = [(payment_id, json.loads(detail)["refund"])
               for payment_id, event, detail in logged if event == REFUND_EVENT]
    amounts = [(payment_id, int(entry["amount"])) for payment_id, entry in entries if not entry.get("for_return")]
    whole = {payment_id for payment_id, event, _detail in logged if event != REFUND_EVENT}
    if whole:
        itemized = set(db.session.scalars(db.select(PaymentLog.payment_id).where(
            PaymentLog.payment_id.in_(whole), PaymentLog.event == REFUND_EVENT)))
        amounts += [(payment.id, refunded_amount(payment)) for payment in db.session.scalars(
            db.select(Payment).where(Payment.id.in_(whole - itemized)))]
    refunded_ids = {payment_id for payment_id, _ in amounts}
    earlier = dict.fromkeys(refunded_ids, 0)  # what these payments gave back before the range
    for payment_id, detail in db.session.execute(db.select(PaymentLog.payment_id, PaymentLog.detail).where(
            PaymentLog.payment_id.in_(refunded_ids), PaymentLog.event == REFUND_EVENT, PaymentLog.at < start)):
        entry = json.loads(detail)["refund"]
        earlier[payment_id] += 0 if entry.get("for_return") else int(entry["amount"])
    not_sales_left = {  # money of the payment no sale took, not given back before the range
        payment.id: max((tenders.unapplied_amount(payment) if payment.sale_id else payment.amount)
                        - earlier[payment.id], 0)
        for payment in db.session.scalars(db.select(Payment).where(Payment.id.in_(refunded_ids)))}
    of_sales = 0
    for payment_id, amount in amounts:
        not_sales = min(amount, not_sales_left[payment_id])
        not_sales_left[payment_id] -= not_sales
        of_sales += amount - not_sales
    return Refunds(count=len(amounts), total=sum(amount for _, amount in amounts), of_sales=of_sales)
