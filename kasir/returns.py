"""Returns at the till (issue 24): goods brought back from a PAID sale and the money given back.

The refund is the returned goods' share of what the customer paid, by one rule (`paid_value`): each line
counts pro rata of its amount after its own discount, the sale-wide discount is shared pro rata, and tax
and service are recomputed by the rule stored with the sale (`TaxSettings.from_text(sale.tax_rule)`), not
today's settings. A return's refund is the value of everything returned so far minus the value returned
before it, so several partial returns add up exactly to the sale's total once everything is back.
Cash rounding taken at the cash tender is not refunded.

How the money goes back (`method`): CASH from the drawer, or QRIS back through the gateway to the sale's QRIS
payment. The split rule for QRIS is simple and explicit: the gateway refunds the return's value up to the QRIS
part still held for this sale (the QRIS tender's share less what earlier returns sent back, never more than the
payment has left after its refunds; with several QRIS payments, the one with most left), and the rest is given
in cash — the return stores both (`amount`, `qris_amount`) and the till and slip show them as two lines.

Money safety of a QRIS return: the supervisor answers first; then a claim row (audit "ReturnRefundClaim") for
the return's own refund key `RT-<sale id>-<return number>` is committed under the sale's lock, so a double tap
or a second till waits instead of refunding again; the gateway is asked outside any write transaction through
`payments.refunds.refund` (which records the refund on the payment and never sends the same key twice); only
then the return, its stock and its audit row are committed in one transaction. A refusing gateway leaves no
return and no stock moved. A crash between the gateway's yes and our commit leaves the refund visible on the
payment (and its claim in the audit log); the modal then says so, and recording the same return again uses the
refund already made instead of asking the gateway.
"""
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction

from . import approvals, audit, stock
from .clock import utcnow
from .database import write_transaction
from .extensions import db
from .models import SALE_PAID, AuditLog, Sale, SaleItem, SaleReturn, SaleReturnItem, Tender, User
from .money import format_rupiah
from .payments import methods as payment_methods
from .payments import refunds as payment_refunds
from .payments import states
from .payments.models import Payment
from .payments.providers import provider_class
from .payments.providers.base import Provider, ProviderError
from .payments.service import PaymentError
from .tax import TaxItem, TaxSettings, compute_tax, round_half_up

METHOD_CASH = "CASH"
METHOD_QRIS = "QRIS"  # back through the gateway to the sale's QRIS payment (the rest, if any, in cash)
METHODS = (METHOD_CASH, METHOD_QRIS)
METHOD_LABELS = {METHOD_CASH: "Tunai", METHOD_QRIS: "QRIS"}
APPROVAL_REASON = "Retur perlu persetujuan supervisor."
CLAIM = "ReturnRefundClaim"  # audit action: a QRIS refund for a return is being asked of the gateway
CLAIM_HELD = timedelta(minutes=2)  # a claim younger than this (not released) means another request is asking


class ReturnError(ValueError):
    """A return the rules refuse; the message is for the cashier (Bahasa Indonesia)."""


def _line_value(item: SaleItem, quantity: int) -> int:
    """`quantity` of a line's units, after the line's own discount, pro rata (exact for the whole line)."""
    if quantity >= item.quantity:
        return item.line_total
    return round_half_up(Fraction(item.line_total * quantity, item.quantity))


def paid_value(sale: Sale, quantities: Mapping[int, int]) -> int:
    """What the customer paid for `quantities` ({sale_item_id: qty}) of `sale`, whole rupiah.

    Lines pro rata after their discount; the sale discount shared pro rata of the sale's subtotal; tax and
    service by the sale's own stored rule. All of the sale's quantities give exactly `sale.total`.
    """
    items = [(item, quantities.get(item.id, 0)) for item in sale.items]
    amounts = [(item, _line_value(item, qty)) for item, qty in items if qty > 0]
    base = sum(amount for _item, amount in amounts)
    discount = round_half_up(Fraction(sale.discount * base, sale.subtotal)) if sale.subtotal else 0
    rule = TaxSettings.from_text(sale.tax_rule)
    tax_items = [TaxItem(amount, bool(item.product and item.product.tax_exempt)) for item, amount in amounts]
    return compute_tax(tax_items, rule, discount).total


def returned_quantities(sale_id: int) -> dict[int, int]:
    """{sale_item_id: quantity returned so far} for a sale."""
    rows = db.session.execute(
        db.select(SaleReturnItem.sale_item_id, db.func.sum(SaleReturnItem.quantity))
        .join(SaleReturn, SaleReturn.id == SaleReturnItem.return_id)
        .where(SaleReturn.sale_id == sale_id).group_by(SaleReturnItem.sale_item_id))
    return {item_id: int(total) for item_id, total in rows}


def returns_of_sales(sale_ids: list[int]) -> dict[int, list[SaleReturn]]:
    """{sale id: its returns, first first} for a list of sales (today's sales list: a slip button each)."""
    found: dict[int, list[SaleReturn]] = {}
    for sale_return in db.session.scalars(db.select(SaleReturn).where(SaleReturn.sale_id.in_(sale_ids))
                                          .order_by(SaleReturn.sale_id, SaleReturn.number)):
        found.setdefault(sale_return.sale_id, []).append(sale_return)
    return found


def find_sale(receipt_number: str) -> Sale:
    """The sale a receipt number names (as printed: <register>-<yymmdd>-<nnnn>); ReturnError if none or unpaid."""
    text = (receipt_number or "").strip().upper()
    parts = text.rsplit("-", 2)
    sale = None
    if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) == 6 and parts[2].isdigit():
        candidates = db.session.scalars(db.select(Sale).where(Sale.number == int(parts[2])))
        sale = next((candidate for candidate in candidates if candidate.display_number == text), None)
    if sale is None:
        raise ReturnError(f"Struk “{text[:40]}” tidak ditemukan.")
    if sale.status != SALE_PAID:
        raise ReturnError("Transaksi ini belum dibayar atau sudah dibatalkan: tidak bisa diretur.")
    return sale


@dataclass(frozen=True)
class QrisRefund:
    """Where a return's QRIS refund can go: the payment and the rupiah of this sale it can still give back."""
    payment: Payment
    left: int


def _refunds_payer(payment: Payment) -> bool:
    try:
        cls = provider_class(payment.provider)
    except LookupError:
        return False
    return cls.refund is not Provider.refund and cls.refunds_payer


def qris_refundable(sale: Sale, pending_key: str | None = None) -> QrisRefund | None:
    """The sale's PAID QRIS payment a return may be refunded to (most left first), or None.

    Left = its tender's share of this sale less what earlier returns sent back to it, and never more than the
    payment still holds after all its refunds. A refund already made under `pending_key` (a return not yet
    recorded) counts as not made, so that return can still be recorded with it.
    """
    best = None
    for payment in sale.payments:
        if payment.method != payment_methods.QRIS or not _refunds_payer(payment):
            continue
        pending = sum(int(entry["amount"]) for entry in payment_refunds.refunds_of(payment)
                      if pending_key and entry.get("refund_key") == pending_key)
        if payment.status != states.PAID and not pending:
            continue
        applied = int(db.session.scalar(db.select(Tender.amount).where(Tender.payment_id == payment.id)) or 0)
        by_returns = int(db.session.scalar(db.select(db.func.coalesce(db.func.sum(SaleReturn.qris_amount), 0))
                                           .where(SaleReturn.payment_id == payment.id)) or 0)  # PG: a Decimal
        left = min(applied - by_returns, payment.amount - payment_refunds.refunded_amount(payment) + pending)
        if left > 0 and (best is None or left > best.left):
            best = QrisRefund(payment, left)
    return best


def next_refund_key(sale: Sale) -> str:
    """The refund key of the sale's next return: the same for a retry or a double tap of that return."""
    count = db.session.scalar(db.select(db.func.count(SaleReturn.id)).where(SaleReturn.sale_id == sale.id)) or 0
    return f"RT-{sale.id}-{count + 1}"


def pending_refund(sale: Sale) -> int:
    """Rupiah already refunded to QRIS for the sale's next return that is not recorded yet (a crash between the
    gateway's yes and our commit), 0 if none: the modal says so, and recording the return uses that refund."""
    key = next_refund_key(sale)
    return sum(int(entry["amount"]) for payment in sale.payments for entry in payment_refunds.refunds_of(payment)
               if entry.get("refund_key") == key)


def _wanted(lines: Mapping[int, int]) -> dict[int, int]:
    wanted = {int(item_id): int(qty) for item_id, qty in lines.items() if int(qty) != 0}
    if any(qty < 0 for qty in wanted.values()):
        raise ReturnError("Jumlah retur tidak boleh negatif.")
    if not wanted:
        raise ReturnError("Pilih barang yang diretur.")
    return wanted


def _checked(sale: Sale, wanted: dict[int, int]) -> tuple[int, dict[int, int], dict[int, int]]:
    """(refund value, returned before, returned after) of taking back `wanted`; ReturnError if the rules refuse."""
    if sale is None or sale.status != SALE_PAID:
        raise ReturnError("Transaksi ini belum dibayar atau sudah dibatalkan: tidak bisa diretur.")
    items = {item.id: item for item in sale.items}
    before = returned_quantities(sale.id)
    for item_id, qty in wanted.items():
        item = items.get(item_id)
        if item is None:
            raise ReturnError("Barang ini bukan bagian dari transaksi.")
        left = item.quantity - before.get(item_id, 0)
        if qty > left:
            raise ReturnError(f"{item.name}: paling banyak {left} bisa diretur.")
    after = {item_id: before.get(item_id, 0) + wanted.get(item_id, 0) for item_id in items}
    return paid_value(sale, after) - paid_value(sale, before), before, after


@dataclass(frozen=True)
class _Refunded:
    payment_id: str
    amount: int  # the return's value the refund was made for
    qris_amount: int
    refund_key: str


def _claim(sale_id: int, key: str, actor: User, detail: str) -> None:
    """Commit a claim on `key` under the sale's lock, or refuse while another request's claim is fresh."""
    with write_transaction():
        db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        last = db.session.scalar(db.select(AuditLog).where(AuditLog.action == CLAIM, AuditLog.target == key)
                                 .order_by(AuditLog.id.desc()).limit(1))
        if last is not None and last.outcome == "ok" and last.at > utcnow() - CLAIM_HELD:
            raise ReturnError("Refund QRIS untuk retur ini sedang diproses. Tunggu sebentar, lalu buka lagi daftar "
                              "transaksi.")
        audit.record(CLAIM, key, actor=actor.username, detail=detail)


def _refund_to_qris(sale_id: int, wanted: dict[int, int], actor: User) -> _Refunded:
    """Ask the gateway (once per return) for the return's QRIS part; ReturnError, nothing recorded, if refused."""
    sale = db.session.get(Sale, sale_id, populate_existing=True)
    amount, _before, _after = _checked(sale, wanted)
    key = next_refund_key(sale)
    target = qris_refundable(sale, pending_key=key)
    if target is None:
        raise ReturnError("Tidak ada pembayaran QRIS yang bisa direfund untuk transaksi ini (sudah dikembalikan "
                          "atau gateway tidak mendukung refund). Pilih Tunai.")
    part = min(amount, target.left)
    made = [entry for entry in payment_refunds.refunds_of(target.payment) if entry.get("refund_key") == key]
    if made and int(made[0]["amount"]) != part:
        raise ReturnError(f"Refund QRIS {format_rupiah(int(made[0]['amount']))} sudah terkirim untuk retur ini, "
                          "tetapi returnya belum tercatat: pilih barang yang sama untuk mencatatnya.")
    payment_id = target.payment.id
    if not made:
        _claim(sale.id, key, actor, f"payment={target.payment.order_id} amount={part}")
    try:
        payment_refunds.refund(db.session.get(Payment, payment_id), part, f"Retur {sale.display_number}",
                               actor.username, refund_key=key, for_return=True)
    except (ProviderError, PaymentError) as exc:
        db.session.rollback()
        with write_transaction():
            audit.record(CLAIM, key, outcome="released", actor=actor.username, detail=f"amount={part}")
        why = str(exc) if isinstance(exc, PaymentError) else "gateway menolak atau tidak menjawab"
        raise ReturnError(f"Refund QRIS gagal ({why}). Retur belum dicatat dan stok tidak berubah: coba lagi, "
                          "atau pilih Tunai.") from None
    return _Refunded(payment_id, amount, part, key)


def create_return(sale: Sale | int, lines: Mapping[int, int], method: str, actor: User,
                  approver: User | None) -> SaleReturn:
    """Take back `lines` ({sale_item_id: qty}) of a PAID sale and record the refund, in one transaction.

    Quantities may not exceed what was sold minus what was already returned. A supervisor answers for it
    (the actor if they are one, else `approver`, checked with `approvals.approve` by the caller); stock comes
    back through `stock.move` (RETURN) and the return is audited. QRIS: the gateway is asked first, outside the
    write transaction (see the module for the order and the split rule); a refusal raises ReturnError.
    """
    if method not in METHODS:
        raise ReturnError("Metode pengembalian dana tidak dikenal.")
    wanted = _wanted(lines)
    supervisor = approvals.require_supervisor(actor, approver, APPROVAL_REASON)
    sale_id = sale if isinstance(sale, int) else sale.id
    refunded = _refund_to_qris(sale_id, wanted, actor) if method == METHOD_QRIS else None
    with write_transaction():
        sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        if refunded is not None:
            done = db.session.scalar(db.select(SaleReturn).where(SaleReturn.refund_key == refunded.refund_key))
            if done is not None:  # a double tap: the first one recorded it
                return done
        amount, before, after = _checked(sale, wanted)
        if refunded is not None and amount != refunded.amount:
            raise ReturnError(f"Refund QRIS {format_rupiah(refunded.qris_amount)} sudah terkirim, tetapi transaksi "
                              "berubah sementara itu: buka lagi Retur dan catat barang yang sama.")
        number = 1 + (db.session.scalar(db.select(db.func.count(SaleReturn.id))
                                         .where(SaleReturn.sale_id == sale.id)) or 0)
        sale_return = SaleReturn(sale=sale, number=number, method=method, amount=amount, cashier=actor,
                                 approver=supervisor)
        if refunded is not None:
            sale_return.qris_amount = refunded.qris_amount
            sale_return.payment_id = refunded.payment_id
            sale_return.refund_key = refunded.refund_key
        items = {item.id: item for item in sale.items}
        for item_id, qty in wanted.items():
            item = items[item_id]
            value = _line_value(item, after[item_id]) - _line_value(item, before.get(item_id, 0))
            sale_return.items.append(SaleReturnItem(sale_item=item, quantity=qty, amount=value))
            stock.move(item.product_id, qty, stock.RETURN, f"Retur {sale.display_number}", actor.username)
        db.session.add(sale_return)
        qris = (f" qris={refunded.qris_amount} refund_key={refunded.refund_key}" if refunded else "")
        audit.record("SaleReturn", sale.display_number, actor=actor.username,
                     detail=f"number={number} method={method} amount={amount}{qris} "
                            f"approved_by={supervisor.username} "
                            + " ".join(f"item={item_id}x{qty}" for item_id, qty in wanted.items()))
    return sale_return


def describe_amount(sale_return: SaleReturn) -> str:
    """What the till says was done or is still to do: "Kembalikan tunai Rp X", "Dikembalikan ke QRIS Rp Y"."""
    parts = []
    if sale_return.qris_amount:
        parts.append(f"Dikembalikan ke QRIS {format_rupiah(sale_return.qris_amount)}")
    if sale_return.cash_amount or not parts:
        parts.append(f"Kembalikan tunai {format_rupiah(sale_return.cash_amount)}")
    return "; ".join(parts)
