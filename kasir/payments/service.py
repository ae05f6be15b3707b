"""Payment rules. `apply_status` is the one way a payment changes state (DESIGN §3).

Webhooks, the background status sync and the cashier's "Cek Status" all end in apply_status, which
locks the payment, ignores a status it already has, checks the transition and the amount, and writes
the state change, its payment_logs row and any sale completion in one transaction. Its statements are
RawWrites: the payment is read as a row (PAYMENT_ROW), and the caller's object shows it as stored after.
"""
import json
import logging
import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, inspect, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from .. import audit, claims, sales, tenders
from ..api import callbacks
from ..clock import utcnow
from ..database import (
    RawWrite,
    column_keys,
    column_values,
    in_write_block,
    primary_key,
    write_block_memo,
    write_transaction,
)
from ..extensions import db
from ..models import SALE_OPEN, Sale
from ..money import format_rupiah
from . import health, states
from .gateway_settings import active_provider_name
from .models import Payment, PaymentLog, new_uuid
from .providers import get_provider, provider_class
from .providers.base import Charge, ProviderError, ProviderStatus, ProviderUnavailable

log = logging.getLogger(__name__)

SYNC_FAST = timedelta(seconds=3)
SYNC_SLOW = timedelta(seconds=30)
FAST_SYNC_WINDOW = timedelta(minutes=2)
MAX_DUPLICATE_ORDER_IDS = 20
ABANDON_MARGIN_SECONDS = 10
UNCONFIRMED_CANCEL = "provider unreachable: "  # the error of a cancel the gateway has not confirmed yet
_PAYMENTS = Payment.__table__
# A payment as stored, its columns under the ORM's attribute names: a row read with it stands in for a Payment.
PAYMENT_ROW = tuple(_PAYMENTS.c[column].label(attribute) for attribute, column in column_keys(Payment).items())
# The statements of a new API payment.
_ORDER_TAKEN = RawWrite(db.select(_PAYMENTS.c.id).where(_PAYMENTS.c.order_id == bindparam("order_id"))
                        .with_for_update())
_NEW_PAYMENT = RawWrite(_PAYMENTS.insert())
# An overdue payment is leased to one expiry run this long; a provider that failed to answer is asked again after it.
EXPIRY_LEASE = timedelta(seconds=30)


class PaymentError(ValueError):
    """A payment request the rules refuse; the message is for the cashier (Bahasa Indonesia)."""


class OrderConflict(Exception):
    """An API order_id that already names a payment that cannot be returned (DESIGN §7)."""

    def __init__(self, code: str, message: str, payment: Payment):
        super().__init__(message)
        self.code = code
        self.message = message
        self.payment = payment


class AmountMismatch(Exception):
    def __init__(self, expected: int, received: int):
        super().__init__(f"amount {received} does not match payment amount {expected}")
        self.expected = expected
        self.received = received


@dataclass(frozen=True)
class Outcome:
    payment: Payment  # the caller's payment (an ORM object or a row), as stored now
    changed: bool
    previous: str


# The statements of apply_status. FOR UPDATE is PostgreSQL's row lock (SQLite holds the write lock already).
_LOCK_PAYMENT = RawWrite(db.select(*PAYMENT_ROW).where(_PAYMENTS.c.id == bindparam("payment_id")).with_for_update())
# No values(): the SET clause is the parameters given, compiled once per set of columns.
_UPDATE_PAYMENT = RawWrite(db.update(_PAYMENTS).where(_PAYMENTS.c.id == bindparam("payment_key")))
_INSERT_LOG = RawWrite(db.insert(PaymentLog.__table__))
_PAYMENT_MAPPER = inspect(Payment)


_LOCKED = "locked_payments"  # write_block_memo(): {id: row} of the payments locked_payment read


def locked_payment(statement: RawWrite, **params):
    """Inside a write transaction: the payment row `statement` finds (a SELECT of PAYMENT_ROW with FOR
    UPDATE), or None; apply_status in the same transaction changes that row instead of reading it again."""
    row = statement.first(**params)
    if row is not None:
        write_block_memo().setdefault(_LOCKED, {})[row.id] = row
    return row


def _locked_row(payment_id: str):
    row = write_block_memo().get(_LOCKED, {}).get(payment_id) or _LOCK_PAYMENT.first(payment_id=payment_id)
    if row is None:
        raise LookupError(payment_id)
    return row


def _update(row, changes: dict) -> None:
    """Write `changes` (attribute names) to a locked payment's row in one UPDATE, and to the row."""
    changes["updated_at"] = utcnow()
    _UPDATE_PAYMENT.execute(payment_key=row.id, **{column_keys(Payment)[key]: value for key, value in changes.items()})
    vars(row).update(changes)


def _show_as_stored(payment, row) -> None:
    """The caller's payment, and the session's object for it if it holds one, show the row as a reload would."""
    held = db.session.identity_map.get(_PAYMENT_MAPPER.identity_key_from_primary_key((row.id,)))
    for target in {id(target): target for target in (payment, held) if target is not None}.values():
        if isinstance(target, Payment):
            for key, value in vars(row).items():
                set_committed_value(target, key, value)
        else:
            vars(target).update(vars(row))


def _log(payment: Payment, event: str, previous: str | None, source: str, detail: dict | str = "") -> None:
    """Add the payment's log row to the current transaction (the payment row must exist: flushed)."""
    text = detail if isinstance(detail, str) else json.dumps(detail, default=str, sort_keys=True)
    _INSERT_LOG.execute(payment_id=payment.id, event=event, from_status=previous, to_status=payment.status,
                        source=source, detail=text[:2000])


def _settle_sale(payment, previous: str) -> str | None:
    """A PAID payment settles its own amount of its sale (the money rule, kasir.tenders); the review reason
    of any money the sale did not take, else None."""
    sale = db.session.get(Sale, payment.sale_id, with_for_update=True, populate_existing=True)
    return tenders.settle_payment(sale, payment, previous)


def apply_status(payment: Payment, status: str, *, source: str, amount: int | None = None,
                 provider_ref: str | None = None, raw: dict | None = None, provider_trx_id: str | None = None,
                 qr_string: str | None = None, expires_at: datetime | None = None,
                 error: str | None = None, meta: dict | None = None) -> Outcome:
    """Move `payment` (a Payment, or a row of PAYMENT_ROW) to `status` if the state machine allows it; a
    repeat is a no-op. Either way the payment shows its row as stored (locked) afterwards.

    Raises InvalidTransition or AmountMismatch without changing anything.
    """
    with write_transaction():
        row = _locked_row(primary_key(payment))
        previous = row.status
        if previous == status:
            _show_as_stored(payment, row)
            return Outcome(payment, False, previous)
        if amount is not None and amount != row.amount:
            raise AmountMismatch(row.amount, amount)
        states.check_transition(previous, status)
        changes: dict = {"status": status}
        detail: dict = {"raw": raw} if raw else {}
        if provider_trx_id:
            changes["provider_trx_id"] = provider_trx_id
        if qr_string:
            changes["qr_string"] = qr_string
        if expires_at:
            changes["expires_at"] = expires_at
        if error:
            changes["error"] = detail["error"] = error[:300]
        if meta:
            changes["meta"] = {**(row.meta or {}), **meta}
        if provider_ref:
            changes["provider_ref_no"] = provider_ref[:100]
        if status == states.PAID:
            changes["paid_at"] = utcnow()
            if previous in (states.EXPIRED, states.CANCELLED):
                changes["late"], changes["review_reason"] = True, tenders.LATE_PAYMENT
            if row.sale_id is not None and (review_reason := _settle_sale(row, previous)):
                changes["review_reason"] = review_reason
        elif row.sale_id is not None:
            sales.touch_display(db.session.get(Sale, row.sale_id).register_id)
        _update(row, changes)
        _log(row, f"status:{status.lower()}", previous, source, detail)
        callbacks.enqueue(row)  # an outbox row in this transaction; a job sends it later
        if status == states.PAID and row.late:
            audit.record("LatePayment", row.order_id, outcome="review", actor="system",
                         detail=f"amount={row.amount} source={source}")
        _show_as_stored(payment, row)
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


def _order_id(sale: Sale, attempt: int) -> str:
    return f"POS-{sale.register.code}-{sale.business_date:%y%m%d}-{sale.number:04d}-{attempt}"


def _free_attempt(sale: Sale, attempt: int) -> int:
    """`attempt`, or the next one whose order id no payment holds yet (one made before API order ids were
    refused the till's POS- prefix, or kept from an earlier database): a taken id is never a 500."""
    for candidate in range(attempt, attempt + MAX_DUPLICATE_ORDER_IDS):
        if db.session.scalar(db.select(Payment.id).where(Payment.order_id == _order_id(sale, candidate))) is None:
            return candidate
    raise PaymentError("Semua nomor order untuk transaksi ini sudah terpakai. Hubungi admin.")


def open_payment_for_sale(sale_id: int) -> Payment | None:
    return db.session.scalar(db.select(Payment).where(Payment.sale_id == sale_id, Payment.status == states.PENDING)
                             .order_by(Payment.created_at.desc()))


def create_for_sale(sale_id: int, amount: int | None = None) -> Payment:
    """Make a new dynamic QR for `amount` of an OPEN sale (default: what is due; 1..due for a split
    tender). Each QR is its own payment, and one at a time is open for a sale.

    Gateways remember order ids forever, ours restart after a reinstall or a restore: when the gateway
    says an order id is taken, the next attempt number (a new order id of the same format) is tried.
    """
    for _ in range(MAX_DUPLICATE_ORDER_IDS):
        payment = _new_sale_payment(sale_id, amount)
        try:
            return request_charge(payment)
        except PaymentError as exc:
            if getattr(exc.__cause__, "code", None) != "duplicate_order_id":
                raise
    raise PaymentError("Gateway menolak semua nomor order. Hubungi admin.")


def _new_sale_payment(sale_id: int, amount: int | None) -> Payment:
    max_amount = current_app.config["QRIS_MAX_AMOUNT"]
    expires_at = utcnow() + timedelta(minutes=current_app.config["EXPIRE_MINUTES"])
    with write_transaction():
        sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        if sale is None or sale.status != SALE_OPEN:
            raise PaymentError("Transaksi ini sudah ditutup.")
        if not sale.items:
            raise PaymentError("Keranjang masih kosong.")
        if sale.total <= 0:
            raise PaymentError(sales.ZERO_TOTAL)
        if (open_payment := open_payment_for_sale(sale.id)) is not None:
            raise PaymentError(f"QR aktif {format_rupiah(open_payment.amount)}. Batalkan QR dulu.")
        remaining = tenders.due(sale)
        amount = remaining if amount is None else amount
        if not 1 <= amount <= remaining:
            raise PaymentError(f"Nominal QRIS harus antara Rp 1 dan {format_rupiah(remaining)} (sisa tagihan).")
        if amount > max_amount:
            raise PaymentError(f"Nominal QRIS melebihi batas QRIS ({format_rupiah(max_amount)}).")
        sales.reserve_number(sale)
        attempt = _free_attempt(sale, 1 + (db.session.scalar(db.select(func.count(Payment.id))
                                                             .where(Payment.sale_id == sale.id)) or 0))
        payment = Payment(order_id=_order_id(sale, attempt), amount=amount, currency="IDR", status=states.CREATED,
                          provider=active_provider_name(), sale_id=sale.id, attempt=attempt,
                          expires_at=expires_at, next_sync_at=utcnow() + SYNC_FAST)
        db.session.add(payment)
        db.session.flush()
        _log(payment, "created", None, "pos", {"amount": payment.amount})
        audit.record("GenerateQR", payment.order_id, detail=f"amount={payment.amount}")
    return payment


def _reuse_order(existing: Payment, api_key_id: int, amount: int) -> Payment:
    """The same order_id again: the open payment if nothing differs, otherwise an OrderConflict."""
    if existing.api_key_id != api_key_id:
        raise OrderConflict("order_conflict", "order_id is already used by another payment", existing)
    if existing.status == states.CREATED:
        raise OrderConflict("order_in_progress", "a payment for this order_id is being created", existing)
    if existing.status != states.PENDING:
        raise OrderConflict("order_closed", f"the payment for this order_id is {existing.status}", existing)
    if existing.amount != amount:
        raise OrderConflict("order_conflict", "order_id already has a pending payment with another amount", existing)
    return existing


def open_api_payment(*, api_key_id: int, order_id: str, amount: int, callback_url: str | None = None,
                     metadata: dict | None = None, provider_name: str | None = None) -> tuple[Payment, bool]:
    """(a CREATED payment to charge, True): a new one, or one whose request died before its charge was
    answered; or (the open payment of a repeated order_id, False).

    A new payment is written with Core inserts (it and its `created` log) and handed back as a
    transient Payment carrying its values: charging it needs no reload, and apply_status locks the row
    itself. Raises OrderConflict; on PostgreSQL, IntegrityError when a concurrent request inserted the
    same order_id first (see repeated_order). Inside a caller's write_transaction() it joins that transaction.
    A new payment is for `provider_name`, by default the active provider.
    """
    with write_transaction():
        if _ORDER_TAKEN.first(order_id=order_id) is not None:
            existing = db.session.scalar(db.select(Payment).where(Payment.order_id == order_id))
            if _abandoned_charge(existing, api_key_id, amount):
                _claim_resumed_charge(existing)
                return existing, True
            return _reuse_order(existing, api_key_id, amount), False
        now = utcnow()
        payment = Payment(id=new_uuid(), order_id=order_id, amount=amount, currency="IDR", status=states.CREATED,
                          provider=provider_name or active_provider_name(), api_key_id=api_key_id,
                          callback_url=callback_url, meta=metadata,
                          expires_at=now + timedelta(minutes=current_app.config["EXPIRE_MINUTES"]),
                          next_sync_at=now + SYNC_FAST, created_at=now, updated_at=now)
        _NEW_PAYMENT.execute(**column_values(payment))
        _log(payment, "created", None, "api", {"amount": amount})
    return payment, True


def repeated_order(*, api_key_id: int, order_id: str, amount: int) -> Payment:
    """After a lost race for an order_id (the IntegrityError of open_api_payment, rolled back): the
    winner's open payment, or an OrderConflict."""
    existing = db.session.scalar(db.select(Payment).where(Payment.order_id == order_id))
    return _reuse_order(existing, api_key_id, amount)


def create_api_payment(*, api_key_id: int, order_id: str, amount: int, callback_url: str | None = None,
                       metadata: dict | None = None) -> tuple[Payment, bool]:
    """A QR for another app's order: (payment, True) once charged, or (open payment, False) for a repeat.

    A provider that charges locally is asked inside the transaction that opens the payment: one commit.
    Raises OrderConflict, or the ProviderError of a refused charge (the payment is then FAILED).
    """
    provider_name = active_provider_name()
    charge_now = not charges_online(provider_name)
    refusal = None
    try:
        with write_transaction() if charge_now else nullcontext():
            payment, created = open_api_payment(api_key_id=api_key_id, order_id=order_id, amount=amount,
                                                callback_url=callback_url, metadata=metadata,
                                                provider_name=provider_name)
            if created and charge_now:
                payment, refusal = _charged(payment)
    except IntegrityError:  # PostgreSQL: a concurrent request inserted the same order_id first
        db.session.rollback()
        return repeated_order(api_key_id=api_key_id, order_id=order_id, amount=amount), False
    if created and not charge_now:
        payment, refusal = _charged(payment)
    if refusal is not None:
        raise refusal  # after the FAILED payment was committed
    return payment, created


def _charged(payment: Payment) -> tuple[Payment | None, ProviderError | None]:
    """A CREATED API payment charged: (the payment, PENDING with its QR, None), or (None, the provider's
    refusal), the payment then FAILED."""
    try:
        return apply_charge(payment, charge_for_api(payment)), None
    except ProviderError as exc:
        return None, exc


def charges_online(provider_name: str) -> bool:
    """Whether the provider's charge is a network call, to be made outside any transaction."""
    return provider_class(provider_name).charges_online


def charge_for_api(payment: Payment) -> Charge:
    """The provider's QR for a CREATED API payment; a refusal makes it FAILED and raises the ProviderError."""
    try:
        return ask_for_qr(payment)
    except PaymentError as exc:
        raise exc.__cause__ from None  # ask_for_qr keeps the cashier's wording; the API reports the provider's


def abandoned_before() -> datetime:
    """Work started before this moment was abandoned: its process died (a `kill -9`, a power cut).

    No live request runs longer than a charge, two status calls and a second charge, each within the
    gateway timeouts, plus a margin for the database.
    """
    connect, read = current_app.config["GATEWAY_CONNECT_TIMEOUT"], current_app.config["GATEWAY_READ_TIMEOUT"]
    return utcnow() - timedelta(seconds=4 * (connect + read) + ABANDON_MARGIN_SECONDS)


def _abandoned_charge(existing: Payment, api_key_id: int, amount: int) -> bool:
    return (existing.status == states.CREATED and existing.api_key_id == api_key_id and existing.amount == amount
            and existing.updated_at <= abandoned_before())


def _claim_resumed_charge(payment: Payment) -> None:
    """The same order again, and the request that made its payment died before the charge was answered.

    Asking the provider again is safe: each gateway keeps one transaction per order id and hands back the
    one it already has. The payment is touched first, so a concurrent retry sees it in progress.
    """
    payment.updated_at = utcnow()
    _log(payment, "charge_resumed", states.CREATED, "api", "the request that created it stopped before the charge")


def ask_for_qr(payment: Payment) -> Charge:
    """Ask the provider for the QR of a CREATED payment (outside any transaction if it charges online:
    a network call). A refusal makes the payment FAILED and raises PaymentError."""
    try:
        return get_provider(payment.provider).create_qr(payment.order_id, payment.amount, payment.expires_at)
    except ProviderError as exc:
        if not in_write_block():  # inside one, the refusal is recorded in that transaction (a local provider)
            db.session.rollback()
        if isinstance(exc, ProviderUnavailable):
            health.record_unreachable(payment.provider, exc)
        apply_status(payment, states.FAILED, source="provider", error=exc.message)
        raise PaymentError(exc.message) from exc


def apply_charge(payment: Payment, charge: Charge) -> Payment:
    """The payment, PENDING with the provider's QR (joins the caller's write_transaction() if there is one)."""
    return apply_status(payment, states.PENDING, source="provider", provider_trx_id=charge.provider_trx_id,
                        qr_string=charge.qr_string, expires_at=charge.expires_at).payment


def request_charge(payment: Payment) -> Payment:
    """Ask the provider for the QR of a CREATED payment; PENDING with the QR, or FAILED with the reason."""
    return apply_charge(payment, ask_for_qr(payment))


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


def regenerate(payment: Payment) -> Payment:
    """A fresh QR for the same sale and amount (a split tender's part stays that part, at most what is due):
    cancel the old one if it is still open, then create a new payment."""
    if payment.sale_id is None:
        raise PaymentError("Pembayaran ini tidak terkait transaksi kasir.")
    outcome = cancel(payment, source="pos")
    if outcome.payment.status == states.PAID:
        raise PaymentError("QR sebelumnya sudah dibayar.")
    still_due = tenders.due(db.session.get(Sale, payment.sale_id))
    return create_for_sale(payment.sale_id, payment.amount if payment.amount < still_due else None)


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
        provider = get_provider(payment.provider)
        reported = provider.fetch_status(payment)
        if reported.status == states.PENDING:
            reported = provider.expire(payment)
        db.session.commit()
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
    provider = get_provider(payment.provider)
    try:
        reported = provider.fetch_status(payment)
        if reported.status == states.PENDING:
            reported = provider.cancel(payment)
        db.session.commit()
    except ProviderError as exc:
        db.session.rollback()
        log.info("cancel of %s still unconfirmed: %s", payment.order_id, exc.message)
        return 0
    if reported.status == states.PAID:
        apply_provider_status(payment, reported, source="sync")
    else:
        with write_transaction():
            payment = db.session.get(Payment, payment.id, with_for_update=True, populate_existing=True)
            payment.next_sync_at = None  # confirmed: nothing left to ask
            _log(payment, "cancel_confirmed", payment.status, "sync", {"raw": reported.raw})
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


def use_late_payment(payment: Payment, *, source: str = "pos") -> Payment:
    """"Pakai untuk transaksi ini": the cashier applies a late payment to its still-open sale, audited.

    Raises PaymentError when it cannot be applied (not a late payment, used already, the sale closed, or
    another QR is open for the sale).
    """
    with write_transaction():
        payment = db.session.get(Payment, primary_key(payment), with_for_update=True, populate_existing=True)
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
        _log(payment, "applied_to_sale", payment.status, source, {"sale": sale.id, "due_after": tenders.due(sale)})
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


def refund(payment: Payment, amount: int, reason: str, actor: str) -> Outcome:
    """Give back `amount` of a PAID payment, once the provider accepts it; audited either way.

    Several partial refunds may follow one another up to the amount paid: each is kept in the payment's
    metadata ("refunds") and its log; the payment stays PAID until the refunds reach its amount, and
    only then goes PAID → REFUNDED (DESIGN §3). Raises PaymentError for a request the rules refuse and
    ProviderError (sanitized) when the gateway refuses.
    """
    reason = " ".join(reason.split())[:200]
    if payment.status != states.PAID:
        raise PaymentError("Hanya pembayaran yang lunas yang bisa direfund.")
    left = payment.amount - refunded_amount(payment)
    if not 0 < amount <= left:
        raise PaymentError(
            f"Nominal refund harus antara Rp 1 dan {format_rupiah(left)} (sisa yang belum dikembalikan).")
    if not reason:
        raise PaymentError("Isi alasan refund.")
    refund_key = f"RF-{payment.order_id[-30:]}-{secrets.token_hex(4)}"
    try:
        reported = get_provider(payment.provider).refund(payment, amount, reason, refund_key)
        db.session.commit()
    except ProviderError as exc:
        db.session.rollback()
        audit.record("Refund", payment.order_id, outcome="refused", actor=actor,
                     detail=f"amount={amount} code={exc.code} error={exc.message}")
        db.session.commit()
        raise
    entry = {"amount": amount, "reason": reason, "refund_key": refund_key, "by": actor, "at": utcnow().isoformat()}
    with write_transaction():
        # The gateway gave the money back: it is recorded even if another refund landed meanwhile.
        row = locked_payment(_LOCK_PAYMENT, payment_id=payment.id)
        refunds = [*refunds_of(row), entry]
        _log(row, REFUND_EVENT, row.status, "admin", {"refund": entry, "provider": reported.raw})
        if row.status == states.PAID and sum(int(item["amount"]) for item in refunds) >= row.amount:
            outcome = apply_status(payment, states.REFUNDED, source="admin", meta={"refunds": refunds})
        else:
            _update(row, {"meta": {**(row.meta or {}), "refunds": refunds}})
            _show_as_stored(payment, row)
            outcome = Outcome(payment, False, row.status)
        audit.record("Refund", payment.order_id, actor=actor,
                     detail=f"amount={amount} of {row.amount} refunded={sum(int(item['amount']) for item in refunds)}")
    return outcome


@dataclass(frozen=True)
class Refunds:
    count: int
    total: int
    of_sales: int  # of the total, money sales had taken (the rest: money no sale took, or API payments)


def refunds_between(start: datetime, end: datetime) -> Refunds:
    """The refunds made in [start, end), for the day's report: each partial refund counts on its own day. A
    payment refunded at the gateway (REFUNDED with no refund of ours) counts its whole amount on the day it
    changed. A sale payment's refunds give back its unapplied money first (kasir.tenders): only what goes
    beyond it takes money back from a sale; an API payment's refunds take nothing from the till's sales."""
    logged = db.session.execute(db.select(PaymentLog.payment_id, PaymentLog.event, PaymentLog.detail).where(
        PaymentLog.event.in_([REFUND_EVENT, f"status:{states.REFUNDED.lower()}"]),
        PaymentLog.at >= start, PaymentLog.at < end).order_by(PaymentLog.at, PaymentLog.id)).all()
    amounts = [(payment_id, int(json.loads(detail)["refund"]["amount"]))
               for payment_id, event, detail in logged if event == REFUND_EVENT]
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
        earlier[payment_id] += int(json.loads(detail)["refund"]["amount"])
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
