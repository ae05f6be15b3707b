"""Asking the gateway: "Cek Status", cancelling, expiry, the status sync job and unconfirmed cancels.

Before a QR is cancelled or expired, the gateway is asked (ask_then_stop): a payment it reports paid
becomes PAID instead (DESIGN §3). Every answer goes through apply_status.
"""
import logging
from datetime import datetime, timedelta

from sqlalchemy import or_

from .. import claims
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from . import health, states
from .models import Payment
from .providers import get_provider
from .providers.base import ProviderError, ProviderStatus, ProviderUnavailable
from .service import (
    Outcome,
    PaymentError,
    apply_provider_status,
    apply_status,
    locked,
    log_event,
    open_payment_for_sale,
)

log = logging.getLogger(__name__)

SYNC_FAST = timedelta(seconds=3)
SYNC_SLOW = timedelta(seconds=30)
FAST_SYNC_WINDOW = timedelta(minutes=2)
UNCONFIRMED_CANCEL = "provider unreachable: "  # the error of a cancel the gateway has not confirmed yet
# An overdue payment is leased to one expiry run this long; a provider that failed to answer is asked again after it.
EXPIRY_LEASE = timedelta(seconds=30)


def ask_then_stop(payment: Payment, *, expiring: bool = False) -> ProviderStatus:
    """Ask the provider about a payment and, while its QR is still payable there, stop it (expire it, or
    cancel it); the provider's last word. Committed (the mock keeps its books in our database). Raises
    ProviderError."""
    provider = get_provider(payment.provider)
    reported = provider.fetch_status(payment)
    if reported.status == states.PENDING:
        reported = provider.expire(payment) if expiring else provider.cancel(payment)
    db.session.commit()
    return reported


def check_status(payment: Payment, *, source: str) -> Outcome:
    """Ask the provider now ("Cek Status", the sync job) and apply the answer."""
    reported = get_provider(payment.provider).fetch_status(payment)
    db.session.commit()
    return apply_provider_status(payment, reported, source=source)


def cancel(payment: Payment, *, source: str) -> Outcome:
    """Cancel a PENDING payment; the provider is asked first, and a payment it reports paid becomes PAID."""
    if payment.status != states.PENDING:
        return Outcome(payment, False, payment.status)
    known = health.latest(payment.provider)
    if known is not None and not known.ok:
        # The gateway just failed to answer: a cash sale must not wait out its timeouts again.
        return apply_status(payment, states.CANCELLED, source=source, error=f"{UNCONFIRMED_CANCEL}{known.message}")
    try:
        reported = ask_then_stop(payment)
    except ProviderError as exc:
        # The till must not hang on the gateway: cancel here; a payment that still arrives is a flagged late one.
        db.session.rollback()
        log.warning("cancel of %s without provider confirmation: %s", payment.order_id, exc.message)
        # The QR may still be payable at the gateway: confirm_unreachable_cancels stops it there later.
        return apply_status(payment, states.CANCELLED, source=source, error=f"{UNCONFIRMED_CANCEL}{exc.message}")
    if reported.status == states.PAID:
        return apply_provider_status(payment, reported, source=source)
    return apply_status(payment, states.CANCELLED, source=source, raw=reported.raw)


def cancel_open_for_sale(sale_id: int, *, source: str) -> None:
    """Before a sale is paid another way, the QR on screen must stop being payable."""
    while (payment := open_payment_for_sale(sale_id)) is not None:
        outcome = cancel(payment, source=source)
        if outcome.payment.status == states.PAID:
            raise PaymentError("QRIS untuk transaksi ini ternyata sudah dibayar.")


def _claim_overdue(now: datetime, limit: int) -> list[str]:
    """Lease overdue PENDING payments to this run (next_sync_at moved on); their ids.

    Sync leaves overdue payments to expiry and never schedules past expires_at, so an overdue payment is
    due here at once; rows another process is claiming are skipped, and a failed check is retried after the lease.
    """
    def lease(payment: Payment) -> None:
        payment.next_sync_at = now + EXPIRY_LEASE

    return claims.claim(db.select(Payment).where(
        Payment.status == states.PENDING, Payment.expires_at <= now,
        or_(Payment.next_sync_at.is_(None), Payment.next_sync_at <= now))
        .order_by(Payment.expires_at).limit(limit), lease)


def _expire(payment: Payment) -> int:
    """Expire one overdue payment (PAID instead if the provider says so); 1 if it became EXPIRED."""
    try:
        reported = ask_then_stop(payment, expiring=True)
    except ProviderError as exc:
        db.session.rollback()
        log.warning("expiry check of %s failed: %s", payment.order_id, exc.message)
        return 0
    if reported.status == states.PAID:
        apply_provider_status(payment, reported, source="expiry")
        return 0
    return apply_status(payment, states.EXPIRED, source="expiry", raw=reported.raw).changed


def expire_due(now: datetime | None = None, limit: int = 100) -> int:
    """PENDING payments past expires_at: PAID if the provider says so, otherwise EXPIRED."""
    return claims.each(Payment, _claim_overdue(now or utcnow(), limit), _expire)


def _sync(payment: Payment) -> int:
    """Ask the provider about one PENDING payment; 1 if its state changed."""
    try:
        return check_status(payment, source="sync").changed
    except ProviderError as exc:
        db.session.rollback()
        if isinstance(exc, ProviderUnavailable):
            health.record_unreachable(payment.provider, exc)
        log.info("status sync of %s failed: %s", payment.order_id, exc.message)
        return 0


def sync_pending(now: datetime | None = None, limit: int = 50) -> int:
    """Poll the provider for PENDING payments whose next sync is due; back off from 3 s to 30 s.

    The batch is claimed (next sync moved on) in one write, so many open QRs cost one commit per run,
    and a second process running the job skips what this one claimed. Overdue payments are expiry's:
    the last sync is scheduled at expires_at at the latest, so expiry finds them due.
    """
    now = now or utcnow()

    def schedule_next(payment: Payment) -> None:
        next_sync = now + (SYNC_FAST if now - payment.created_at < FAST_SYNC_WINDOW else SYNC_SLOW)
        payment.next_sync_at = min(next_sync, payment.expires_at) if payment.expires_at else next_sync
        payment.sync_count += 1

    due = claims.claim(db.select(Payment).where(
        Payment.status == states.PENDING, Payment.next_sync_at <= now,
        or_(Payment.expires_at.is_(None), Payment.expires_at > now))
        .order_by(Payment.next_sync_at).limit(limit), schedule_next)
    return claims.each(Payment, due, _sync)


def _confirm_cancel(payment: Payment) -> int:
    """Ask the gateway to stop one unconfirmed cancel's QR; 1 once it is settled one way or the other."""
    try:
        reported = ask_then_stop(payment)
    except ProviderError as exc:
        db.session.rollback()
        log.info("cancel of %s still unconfirmed: %s", payment.order_id, exc.message)
        return 0
    if reported.status == states.PAID:
        apply_provider_status(payment, reported, source="sync")
    else:
        with write_transaction():
            payment = locked(payment.id)
            payment.next_sync_at = None  # confirmed: nothing left to ask
            log_event(payment, "cancel_confirmed", payment.status, "sync", {"raw": reported.raw})
    return 1


def confirm_unreachable_cancels(now: datetime | None = None, limit: int = 20) -> int:
    """Cancels made while the gateway was unreachable, once it answers: stop the QR there too.

    Until then the QR may still be paid (and no webhook reaches a shop PC behind NAT): if the gateway
    reports it paid, the payment becomes a late PAID, flagged for review; money is never ignored.
    Returns how many were settled one way or the other; the rest are tried again every 30 s.
    """
    now = now or utcnow()

    def retry_later(payment: Payment) -> None:
        payment.next_sync_at = now + SYNC_SLOW

    due = claims.claim(db.select(Payment).where(
        Payment.status == states.CANCELLED, Payment.error.startswith(UNCONFIRMED_CANCEL),
        Payment.next_sync_at <= now).order_by(Payment.next_sync_at).limit(limit), retry_later)
    return claims.each(Payment, due, _confirm_cancel)
