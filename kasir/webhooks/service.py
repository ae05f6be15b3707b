"""Webhook intake: verify, store every verified delivery, converge through apply_status (one commit when it
applies). A refused delivery (it failed verification, its sender is over its limit, or it is a replay) is
only counted (kasir.webhooks.rejections)."""
import functools
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError

from .. import audit, claims
from ..clock import utcnow
from ..database import lock_one, locking, primary_key, write_transaction
from ..extensions import db
from ..payments import service, states
from ..payments.models import WEBHOOK_ERROR, WEBHOOK_OK, WEBHOOK_PENDING, Payment, WebhookDelivery
from ..payments.providers import get_provider
from ..payments.providers.base import MalformedWebhook, ProviderError, WebhookEvent, WebhookIgnored, WebhookRejected
from . import rejections

log = logging.getLogger(__name__)

KEPT_HEADERS = ("Content-Type", "User-Agent", "X-Event-Id", "X-Timestamp")
MAX_STORED_BODY = 20_000
RETRY_UNMATCHED_FOR = timedelta(hours=24)
NOT_FOUND_YET = "no payment with this order_id/trx_id yet"
STILL_BEING_CREATED = "payment still being created"
# A PENDING delivery is leased to whoever processes it (the request that received it, or one job run):
# another server process skips it meanwhile; after a crash it is due again once the lease has passed.
CLAIM_LEASE = timedelta(minutes=2)


@dataclass
class Reply:
    status: int
    body: dict = field(default_factory=dict)


class DuplicateDelivery(Exception):
    """The delivery's event id, or its transaction key, is stored already: a replay."""


def transaction_key(event: WebhookEvent) -> str:
    """The same news about the same money, whatever event id it came with: the transaction (gateway id and
    our order id), the status and the amount. Only a webhook's body is signed, so a captured delivery can
    be sent again under a new event id and timestamp; this key makes it a duplicate all the same."""
    parts = (event.provider_trx_id or "", event.reference or "", event.status,
             "" if event.amount is None else str(event.amount))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass
class _Stored:
    """A verified delivery committed PENDING, leased to this request, with what it found."""
    delivery_id: int
    payment: Payment | None
    not_ready: str | None


def _insert(provider: str, headers, raw_body: bytes, status: str, error: str | None = None, *,
            event: WebhookEvent | None, payment_id: str | None = None, attempts: int = 0,
            next_attempt_at: datetime | None = None, processed: bool = False) -> int:
    """Add a delivery (of `event`, None for one ignored) to the current write transaction; its id. Raises
    DuplicateDelivery for a stored event id or transaction key."""
    values = {"provider": provider, "event_id": event.event_id if event else None,
              "transaction_key": transaction_key(event) if event else None, "status": status, "error": error,
              "headers": {k: headers.get(k) for k in KEPT_HEADERS if headers.get(k)},
              "payload": raw_body[:MAX_STORED_BODY].decode("utf-8", "replace"), "payment_id": payment_id,
              "attempts": attempts, "next_attempt_at": next_attempt_at, "processed_at": utcnow() if processed else None}
    delivery = WebhookDelivery(**values)
    db.session.add(delivery)
    try:
        db.session.flush()
    except IntegrityError:
        raise DuplicateDelivery(values["event_id"]) from None
    return delivery.id


def _store(provider: str, headers, raw_body: bytes, **values) -> None:
    """Store a delivery that needs nothing more (refused, ignored, a duplicate) in its own transaction."""
    with write_transaction():
        _insert(provider, headers, raw_body, **values)


_BY_ORDER_ID = locking(select(Payment).where(Payment.order_id == bindparam("order_id")))
_BY_TRX_ID = locking(select(Payment).where(Payment.provider_trx_id == bindparam("trx_id")))


def find_payment(event: WebhookEvent) -> Payment | None:
    """The event's payment, or None. Locked: inside the caller's write transaction, the payment found is
    the one apply_status changes."""
    with write_transaction():
        if event.reference:
            payment = lock_one(_BY_ORDER_ID, order_id=event.reference)
            if payment is not None:
                return payment
        if event.provider_trx_id:
            return lock_one(_BY_TRX_ID, trx_id=event.provider_trx_id)
    return None


def receive_generic(headers, raw_body: bytes, source: str | None = None) -> Reply:
    """POST /webhooks/qris: the provider that speaks the generic format is the configured one."""
    return receive(get_provider(), headers, raw_body, source)


def receive_from(provider_name: str, headers, raw_body: bytes, source: str | None = None) -> Reply:
    """POST /webhooks/midtrans, /webhooks/xendit: the gateway's own format, whatever provider is active now."""
    return receive(get_provider(provider_name), headers, raw_body, source)


def receive(provider, headers, raw_body: bytes, source: str | None = None) -> Reply:
    """Verify with the provider, store, then process; a delivery that fails verification changes nothing
    and is only counted, as is one from a sender (`source`, its address) over its limit, and a replay.

    A delivery is stored with its outcome in the transaction that applies it (one commit): a server that
    dies before that commit keeps neither, and the sender, left without an answer, delivers again; a replay
    rolls back on the stored event id; an error rolls back and the delivery is then kept for the job. One that
    cannot be applied at once (no payment yet, or a gateway to ask first) is committed on its own, leased to this
    request, before anything else.
    """
    if rejections.over_limit(source):
        rejections.refuse(provider.name, source, rejections.RATE_LIMITED, "too many refused deliveries", headers,
                          raw_body)
        return Reply(429, {"error": {"code": "rate_limited", "message": "too many refused deliveries; try later",
                                     "details": {}}})
    try:
        event = provider.parse_webhook(headers, raw_body)
    except WebhookRejected as exc:
        rejections.refuse(provider.name, source, rejections.REJECTED, str(exc), headers, raw_body)
        return Reply(401, {"error": {"code": "invalid_signature",
                                     "message": "signature, timestamp or event id did not verify", "details": {}}})
    except MalformedWebhook as exc:
        rejections.refuse(provider.name, source, rejections.MALFORMED, str(exc), headers, raw_body)
        return Reply(400, {"error": {"code": "malformed_webhook", "message": str(exc), "details": {}}})
    except WebhookIgnored as exc:
        log.info("%s webhook ignored: %s", provider.name, exc)
        _store(provider.name, headers, raw_body, event=None, status=WEBHOOK_OK, error=f"ignored: {exc}")
        return Reply(200, {"result": "ignored"})
    try:
        with write_transaction():
            taken = _take(provider, headers, raw_body, event)
    except DuplicateDelivery:
        # Counted, not stored (a replay costs nothing): the first delivery is the record, and replays change nothing.
        rejections.refuse(provider.name, source, rejections.DUPLICATE, f"event {event.event_id[:100]}", headers,
                          raw_body)
        _complete_interrupted(provider.name, event)
        return Reply(200, {"result": "duplicate"})
    except Exception:
        _keep_for_retry(provider.name, headers, raw_body, event)
        raise
    if isinstance(taken, Reply):
        return taken
    if taken.not_ready:
        return _not_found_yet()
    return _apply(taken.delivery_id, provider.name, taken.payment, event)


def _take(provider, headers, raw_body: bytes, event: WebhookEvent) -> Reply | _Stored:
    """In one write transaction: the event applied and its delivery stored (the Reply), or the delivery
    stored PENDING when it cannot be applied at once."""
    payment = find_payment(event)
    not_ready = _not_ready(payment)
    if not_ready is None and not provider.confirms_events_online:
        return _converge(functools.partial(_insert, provider.name, headers, raw_body, event=event,
                                           payment_id=payment.id, attempts=1, processed=True), payment, event)
    return _Stored(_insert(provider.name, headers, raw_body, WEBHOOK_PENDING, not_ready, event=event,
                           payment_id=payment.id if payment is not None else None, attempts=1,
                           next_attempt_at=utcnow() if not_ready else utcnow() + CLAIM_LEASE), payment, not_ready)


def _keep_for_retry(provider_name: str, headers, raw_body: bytes, event: WebhookEvent) -> None:
    """Processing failed and rolled back (the sender gets a 500): keep the delivery, as if stored first,
    for the job to apply. If even that fails, the sender's retry is what is left."""
    try:
        _store(provider_name, headers, raw_body, event=event, status=WEBHOOK_PENDING,
               error="processing failed; retried by the job", attempts=1, next_attempt_at=utcnow())
    except Exception:
        log.exception("a failed %s webhook could not be kept for retry", provider_name)


def _complete_interrupted(provider_name: str, event: WebhookEvent) -> None:
    """A replay of an event whose first delivery was stored but never processed (its server died between
    the two): process the stored one now rather than after its lease. apply_status makes a repeat a no-op."""
    original = db.session.scalar(db.select(WebhookDelivery).where(
        WebhookDelivery.provider == provider_name,
        or_(WebhookDelivery.event_id == event.event_id, WebhookDelivery.transaction_key == transaction_key(event)))
        .order_by(WebhookDelivery.id).limit(1))
    if original is not None and original.status == WEBHOOK_PENDING and _not_ready(find_payment(event)) is None:
        process(original, event)


def _not_ready(payment) -> str | None:
    """Why an event cannot be applied yet: no such payment, or its QR still being made (the charge's answer
    is not stored). The job retries it."""
    if payment is None:
        return NOT_FOUND_YET
    return STILL_BEING_CREATED if payment.status == states.CREATED else None


def _not_found_yet() -> Reply:
    return Reply(202, {"result": "accepted", "detail": "payment not found or not ready yet; will retry"})


def process(delivery: WebhookDelivery, event: WebhookEvent) -> Reply:
    """Apply a verified event again; an unknown payment stays PENDING for the sync job to retry."""
    delivery.attempts += 1
    payment = find_payment(event)
    not_ready = _not_ready(payment)
    if not_ready:
        delivery.error = not_ready
        delivery.next_attempt_at = utcnow()  # due again at the job's next run
        db.session.commit()
        return _not_found_yet()
    delivery.payment_id = payment.id
    delivery_id, provider_name = delivery.id, delivery.provider
    db.session.commit()
    return _apply(delivery_id, provider_name, payment, event)


def _apply(delivery_id: int, provider_name: str, payment, event: WebhookEvent) -> Reply:
    """Confirm the event with the gateway if it wants that (outside any transaction), then converge."""
    try:
        event = get_provider(provider_name).confirm_event(payment, event)
    except ProviderError as exc:
        db.session.rollback()
        with write_transaction():  # stays PENDING: the gateway's retry or our job tries again
            _update_delivery(delivery_id, next_attempt_at=utcnow(), error=f"status check failed: {exc.message}"[:300])
        return Reply(503, {"error": {"code": exc.code, "message": "could not confirm the status with the gateway",
                                     "details": {}}})
    return _converge(functools.partial(_mark, delivery_id), payment, event)


def _converge(record, payment, event: WebhookEvent) -> Reply:
    """Apply a verified event through apply_status; `record(status, error)` writes the delivery's outcome
    (the stored row, or a new one) in the same transaction as the state change."""
    with write_transaction():
        if event.status == states.PENDING:  # nothing new: the charge's own answer makes a payment PENDING
            record(WEBHOOK_OK, None)
            return Reply(200, {"result": "unchanged", "status": payment.status})
        try:
            outcome = service.apply_status(payment, event.status, source="webhook", amount=event.amount,
                                           provider_ref=event.ref_no, raw={"event_id": event.event_id})
        except service.AmountMismatch as exc:  # apply_status refuses before it changes anything
            record(WEBHOOK_ERROR, f"amount mismatch: got {exc.received}, expected {exc.expected}")
            audit.record("WebhookAmountMismatch", payment.order_id, outcome="rejected", actor="webhook",
                         detail=f"expected={exc.expected} received={exc.received} event={event.event_id}")
            return Reply(422, {"error": {"code": "amount_mismatch", "message": "amount does not match the payment",
                                         "details": {"expected": exc.expected, "received": exc.received}}})
        except states.InvalidTransition as exc:
            record(WEBHOOK_OK, f"ignored: {exc}")
            return Reply(200, {"result": "ignored", "status": payment.status})
        record(WEBHOOK_OK, None)
        return Reply(200, {"result": "applied" if outcome.changed else "unchanged", "status": outcome.payment.status})


def _mark(delivery_id: int, status: str, error: str | None) -> None:
    _update_delivery(delivery_id, status=status, error=error, processed_at=utcnow(), next_attempt_at=None)


def _update_delivery(delivery_id: int, **values) -> None:
    db.session.execute(db.update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))


def _claim_unmatched(limit: int) -> list[int]:
    """Lease the due PENDING deliveries to this run in one short transaction (rows locked by another skipped)."""
    now = utcnow()

    def lease(delivery: WebhookDelivery) -> None:
        delivery.next_attempt_at = now + CLAIM_LEASE

    return claims.claim(db.select(WebhookDelivery).where(
        WebhookDelivery.status == WEBHOOK_PENDING, WebhookDelivery.event_id.is_not(None),
        WebhookDelivery.received_at >= now - RETRY_UNMATCHED_FOR,
        or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now))
        .order_by(WebhookDelivery.id).limit(limit), lease)


def _reprocess(delivery: WebhookDelivery) -> int:
    """Read a stored delivery again and apply it; 1 if it was applied now."""
    try:
        event = get_provider(delivery.provider).read_event(delivery.event_id, delivery.payload.encode())
    except (MalformedWebhook, WebhookRejected, WebhookIgnored) as exc:
        with write_transaction():
            _mark(primary_key(delivery), WEBHOOK_ERROR, f"cannot re-read: {exc}")
        return 0
    return process(delivery, event).status == 200


def reprocess_unmatched(limit: int = 50) -> int:
    """Retry verified deliveries that arrived before their payment existed (kept for 24 h)."""
    return claims.each(WebhookDelivery, _claim_unmatched(limit), _reprocess)

