"""Creating charges: a QR (or VA, link) for a sale at the till or for another app's order (the API).

A payment is first written CREATED, then the provider is asked for its charge, which makes it PENDING
(apply_charge) or FAILED. A provider that charges online is asked outside any transaction (a network
call); one that keeps its books in our database (the mock) inside the transaction that opens the payment.
"""
from contextlib import nullcontext
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from .. import audit, sales, tenders
from ..clock import utcnow
from ..database import in_write_block, write_transaction
from ..extensions import db
from ..models import SALE_OPEN, Sale
from ..money import format_rupiah
from . import health, states
from .gateway_settings import active_provider_name
from .models import Payment, new_uuid
from .providers import get_provider, provider_class
from .providers.base import Charge, ProviderError, ProviderUnavailable
from .service import PaymentError, apply_status, log_event, open_payment_for_sale
from .sync import SYNC_FAST, cancel

MAX_DUPLICATE_ORDER_IDS = 20
ABANDON_MARGIN_SECONDS = 10


class OrderConflict(Exception):
    """An API order_id that already names a payment that cannot be returned (DESIGN §7)."""

    def __init__(self, code: str, message: str, payment: Payment):
        super().__init__(message)
        self.code = code
        self.message = message
        self.payment = payment


def _order_id(sale: Sale, attempt: int) -> str:
    return f"POS-{sale.register.code}-{sale.business_date:%y%m%d}-{sale.number:04d}-{attempt}"


def _free_attempt(sale: Sale, attempt: int) -> int:
    """`attempt`, or the next one whose order id no payment holds yet (one made before API order ids were
    refused the till's POS- prefix, or kept from an earlier database): a taken id is never a 500."""
    for candidate in range(attempt, attempt + MAX_DUPLICATE_ORDER_IDS):
        if db.session.scalar(db.select(Payment.id).where(Payment.order_id == _order_id(sale, candidate))) is None:
            return candidate
    raise PaymentError("Semua nomor order untuk transaksi ini sudah terpakai. Hubungi admin.")


def create_for_sale(sale_id: int, amount: int | None = None, *, method: str = "qris",
                    bank: str | None = None) -> Payment:
    """Make a new dynamic QR for `amount` of an OPEN sale (default: what is due; 1..due for a split
    tender). Each QR is its own payment, and one at a time is open for a sale. Raises PaymentError.

    Gateways remember order ids forever, ours restart after a reinstall or a restore: when the gateway
    says an order id is taken, the next attempt number (a new order id of the same format) is tried.
    """
    for _ in range(MAX_DUPLICATE_ORDER_IDS):
        payment = _new_sale_payment(sale_id, amount, method, bank)
        try:
            return charge(payment)
        except ProviderError as exc:
            if exc.code != "duplicate_order_id":
                raise PaymentError(exc.message) from exc
    raise PaymentError("Gateway menolak semua nomor order. Hubungi admin.")


def _new_sale_payment(sale_id: int, amount: int | None, method: str = "qris", bank: str | None = None) -> Payment:
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
        payment = Payment(id=new_uuid(), order_id=_order_id(sale, attempt), amount=amount, currency="IDR",
                          status=states.CREATED, provider=active_provider_name(), sale_id=sale.id, attempt=attempt,
                          method=method, instructions={"va": {"bank": bank}} if method == "va" else None,
                          expires_at=expires_at, next_sync_at=utcnow() + SYNC_FAST)
        db.session.add(payment)
        log_event(payment, "created", None, "pos", {"amount": payment.amount})
        audit.record("GenerateQR", payment.order_id, detail=f"amount={payment.amount}")
    return payment


def regenerate(payment: Payment) -> Payment:
    """A fresh QR for the same sale and amount (a split tender's part stays that part, at most what is due):
    cancel the old one if it is still open, then create a new payment."""
    if payment.sale_id is None:
        raise PaymentError("Pembayaran ini tidak terkait transaksi kasir.")
    outcome = cancel(payment, source="pos")
    if outcome.payment.status == states.PAID:
        raise PaymentError("QR sebelumnya sudah dibayar.")
    still_due = tenders.due(db.session.get(Sale, payment.sale_id))
    bank = (payment.instructions or {}).get("va", {}).get("bank") if payment.method == "va" else None
    return create_for_sale(payment.sale_id, payment.amount if payment.amount < still_due else None,
                           method=payment.method or "qris", bank=bank)


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


# The payment of an order_id, locked. Built once (docs/performance.md).
_ORDER_LOCKED = select(Payment).where(Payment.order_id == bindparam("order_id")).with_for_update()


def open_api_payment(*, api_key_id: int, order_id: str, amount: int, callback_url: str | None = None,
                     metadata: dict | None = None, provider_name: str | None = None, method: str = "qris",
                     bank: str | None = None) -> tuple[Payment, bool]:
    """(a CREATED payment to charge, True): a new one, or one whose request died before its charge was
    answered; or (the open payment of a repeated order_id, False).

    Raises OrderConflict; on PostgreSQL, IntegrityError when a concurrent request inserted the same
    order_id first (see repeated_order), at the flush or commit of the transaction. Inside a caller's
    write_transaction() it joins that transaction.
    A new payment is for `provider_name`, by default the active provider.
    """
    with write_transaction():
        existing = db.session.scalar(_ORDER_LOCKED, {"order_id": order_id})
        if existing is not None:
            if _abandoned_charge(existing, api_key_id, amount):
                _claim_resumed_charge(existing)
                return existing, True
            return _reuse_order(existing, api_key_id, amount), False
        now = utcnow()
        # Every field the answer shows is set here: a local provider's charge is answered before the row is flushed.
        payment = Payment(id=new_uuid(), order_id=order_id, amount=amount, currency="IDR", status=states.CREATED,
                          late=False, provider=provider_name or active_provider_name(), api_key_id=api_key_id,
                          callback_url=callback_url, meta=metadata, method=method,
                          instructions={"va": {"bank": bank}} if method == "va" else None,
                          expires_at=now + timedelta(minutes=current_app.config["EXPIRE_MINUTES"]),
                          next_sync_at=now + SYNC_FAST, created_at=now, updated_at=now)
        db.session.add(payment)
        log_event(payment, "created", None, "api", {"amount": amount})
    return payment, True


def repeated_order(*, api_key_id: int, order_id: str, amount: int) -> Payment:
    """After a lost race for an order_id (the IntegrityError of open_api_payment, rolled back): the
    winner's open payment, or an OrderConflict."""
    existing = db.session.scalar(db.select(Payment).where(Payment.order_id == order_id))
    return _reuse_order(existing, api_key_id, amount)


def create_api_payment(*, api_key_id: int, order_id: str, amount: int, callback_url: str | None = None,
                       metadata: dict | None = None, method: str = "qris",
                       bank: str | None = None) -> tuple[Payment, bool]:
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
                                                provider_name=provider_name, method=method, bank=bank)
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
        return charge(payment), None
    except ProviderError as exc:
        return None, exc


def charges_online(provider_name: str) -> bool:
    """Whether the provider's charge is a network call, to be made outside any transaction."""
    return provider_class(provider_name).charges_online


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
    log_event(payment, "charge_resumed", states.CREATED, "api", "the request that created it stopped before the charge")


def ask_for_qr(payment: Payment) -> Charge:
    """Ask the provider for the charge of a CREATED payment (outside any transaction if it charges online:
    a network call). A refusal makes the payment FAILED and raises the provider's ProviderError."""
    try:
        options = {"bank": (payment.instructions or {}).get("va", {}).get("bank")} if payment.method == "va" else {}
        return get_provider(payment.provider).create_charge(payment.method or "qris", payment.order_id,
                                                            payment.amount, payment.expires_at, **options)
    except ProviderError as exc:
        if not in_write_block():  # inside one, the refusal is recorded in that transaction (a local provider)
            db.session.rollback()
        if isinstance(exc, ProviderUnavailable):
            health.record_unreachable(payment.provider, exc)
        apply_status(payment, states.FAILED, source="provider", error=exc.message)
        raise


def apply_charge(payment: Payment, charge: Charge) -> Payment:
    """The payment, PENDING with the provider's QR (joins the caller's write_transaction() if there is one)."""
    return apply_status(payment, states.PENDING, source="provider", provider_trx_id=charge.provider_trx_id,
                        qr_string=charge.qr_string, expires_at=charge.expires_at,
                        instructions=charge.instructions or None).payment


def charge(payment: Payment) -> Payment:
    """Ask the provider for the charge of a CREATED payment and apply it: PENDING with its QR. A refusal
    makes it FAILED and raises the ProviderError."""
    return apply_charge(payment, ask_for_qr(payment))
