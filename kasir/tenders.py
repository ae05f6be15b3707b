"""The money rule of a sale (DESIGN §3): a sale is PAID only when the money received for it covers its total.

A sale's tenders are the money taken for it: cash (tendered, change), debit (EDC reference) and each PAID
payment's share of the total. A tender settles at most what was due when it was taken; what a payment
brought beyond its tender (late, double or extra money) is unapplied: shown at once, flagged, refunded.
Cash that settles the rest of a sale is rounded to the shop's step (docs/tax.md): the tender holds the cash
taken and the sale's signed `cash_rounding` settles the difference, so the money rule counts it.
The till, the display, receipts and reports read a sale's money from here.
"""
from datetime import datetime

from sqlalchemy import func

from . import audit, sales
from .database import write_transaction
from .extensions import db
from .models import METHOD_CASH, METHOD_DEBIT, METHOD_QRIS, METHOD_SPLIT, SALE_OPEN, SALE_PAID, AuditLog, Sale, Tender
from .money import MoneyError, format_rupiah, parse_rupiah
from .payments import states
from .payments.models import Payment
from .settings import tax_settings
from .tax import cash_round

LATE_PAYMENT = "Pembayaran terlambat: diterima setelah QR kedaluwarsa/dibatalkan."
DOUBLE_PAYMENT = "Pembayaran ganda: transaksi sudah lunas, perlu refund."
OVER_PAYMENT = "Kelebihan bayar {amount}: melebihi sisa tagihan, perlu refund."
_LATE_STATES = (states.EXPIRED, states.CANCELLED)
ACKNOWLEDGED = "AcknowledgeUnappliedPayment"


def received(sale: Sale) -> int:
    """Rupiah of the sale's total the money taken so far settles, the cash rounding included."""
    return sum(tender.amount for tender in sale.tenders) - (sale.cash_rounding or 0)


def due(sale: Sale) -> int:
    """Rupiah still to pay for the sale's total."""
    return max(sale.total - received(sale), 0)


def cash_due(sale: Sale) -> tuple[int, int]:
    """(cash to ask for the rest of the sale, signed rounding) under the shop's cash rounding step; a rest that
    would round to nothing is taken exactly (a tender is never Rp 0)."""
    remaining = due(sale)
    rounded, rounding = cash_round(remaining, tax_settings().cash_rounding)
    return (rounded, rounding) if rounded > 0 else (remaining, 0)


def unapplied_amount(payment: Payment) -> int:
    """Rupiah a PAID (or refunded) sale payment brought that its sale did not take: late, double or extra
    money to give back. 0 for API payments and unpaid ones."""
    if payment.sale_id is None or payment.status not in (states.PAID, states.REFUNDED):
        return 0
    applied = db.session.scalar(db.select(Tender.amount).where(Tender.payment_id == payment.id)) or 0
    return payment.amount - applied


def unapplied_payments(start: datetime | None = None, end: datetime | None = None) -> list[tuple[Payment, int]]:
    """PAID sale payments (paid in [start, end)) with money their sale did not take, oldest first: the
    "kelebihan bayar / perlu refund" list."""
    unapplied = Payment.amount - func.coalesce(Tender.amount, 0)
    query = (db.select(Payment, unapplied).outerjoin(Tender, Tender.payment_id == Payment.id)
             .where(Payment.sale_id.is_not(None), Payment.status == states.PAID, unapplied > 0))
    if start is not None:
        query = query.where(Payment.paid_at >= start)
    if end is not None:
        query = query.where(Payment.paid_at < end)
    return [(payment, amount) for payment, amount in db.session.execute(query.order_by(Payment.paid_at))]


def unapplied_to_show(register_id: int, start: datetime) -> list[tuple[Payment, int]]:
    """The register's unapplied money paid since `start` that the till has not dealt with yet (applied to its
    sale, or noted for a refund: acknowledge_unapplied): the loud banner at the till and the display."""
    noted = set(db.session.scalars(db.select(AuditLog.target).where(AuditLog.action == ACKNOWLEDGED,
                                                                    AuditLog.at >= start)))
    return [(payment, amount) for payment, amount in unapplied_payments(start)
            if payment.sale.register_id == register_id and payment.order_id not in noted]


def acknowledge_unapplied(payment: Payment) -> None:
    """The cashier noted unapplied money for a refund (the report lists it until refunded); audited."""
    with write_transaction():
        audit.record(ACKNOWLEDGED, payment.order_id, outcome="review",
                     detail=f"amount={payment.amount} unapplied={unapplied_amount(payment)}")
        sales.touch_display(payment.sale.register_id)


def part_paid_sales(register=None) -> list[Sale]:
    """OPEN sales that already received money: the till shows them with "Kurang Rp X"."""
    query = db.select(Sale).where(Sale.status == SALE_OPEN, Sale.id.in_(db.select(Tender.sale_id)))
    if register is not None:
        query = query.where(Sale.register_id == register.id)
    return list(db.session.scalars(query.order_by(Sale.id)))


def method_of(sale: Sale) -> str | None:
    """CASH, DEBIT or QRIS when all the sale's tenders are of one method, SPLIT (Campuran) when not."""
    methods = {tender.method for tender in sale.tenders}
    if len(methods) > 1:
        return METHOD_SPLIT
    return next(iter(methods), None)


def _take(sale: Sale, tender: Tender) -> None:
    """Add a tender to an OPEN sale; the sale closes once what it received covers its total."""
    tender.cashier_id = sale.cashier_id
    sale.tenders.append(tender)
    if received(sale) >= sale.total:
        _close(sale)
    else:
        sales.touch_display(sale.register_id)


def _close(sale: Sale) -> None:
    """Close a covered sale; the old single-method columns are kept filled from its cash and debit tenders."""
    cash = [tender for tender in sale.tenders if tender.method == METHOD_CASH]
    debit = [tender for tender in sale.tenders if tender.method == METHOD_DEBIT]
    if cash:
        sale.tendered = sum(tender.tendered or 0 for tender in cash)
        sale.change = sum(tender.change or 0 for tender in cash)
    elif debit:
        sale.tendered, sale.change = sum(tender.amount for tender in debit), 0
    if debit:
        sale.edc_reference = debit[-1].edc_reference
    sales.mark_paid(sale, method_of(sale))


def settle_payment(sale: Sale, payment, previous_status: str) -> str | None:
    """A sale payment just became PAID (inside apply_status's transaction, the sale locked): take what is
    due of it as a QRIS tender, closing the sale when covered. Returns the payment's review reason when
    some of its money was not applied (late after cancel/expiry, sale already paid, more than due), else None.
    """
    if previous_status in _LATE_STATES:  # apply_status audits every late payment
        sales.touch_display(sale.register_id)
        # Kept apart: the cashier may apply it to the still-open sale (apply_late_payment), else it is refunded.
        return LATE_PAYMENT if sale.status == SALE_OPEN else DOUBLE_PAYMENT
    return _apply(sale, payment)


def apply_late_payment(sale: Sale, payment) -> str | None:
    """The cashier applies a late payment to its still-OPEN sale (the sale locked by the caller); the
    payment's new review reason if part of it is still not applied, else None."""
    if sale.status != SALE_OPEN:
        raise sales.SaleError("Transaksi ini sudah ditutup.")
    return _apply(sale, payment)


def _apply(sale: Sale, payment) -> str | None:
    applied = min(payment.amount, due(sale)) if sale.status == SALE_OPEN else 0
    if applied:
        _take(sale, Tender(method=METHOD_QRIS, amount=applied, payment_id=payment.id))
    else:
        sales.touch_display(sale.register_id)  # the till and display show the unapplied money at once
    unapplied = payment.amount - applied
    if not unapplied:
        return None
    audit.record("OverPayment", payment.order_id, outcome="review", actor="system",
                 detail=f"sale={sale.id} amount={payment.amount} applied={applied} unapplied={unapplied}")
    return OVER_PAYMENT.format(amount=format_rupiah(unapplied)) if applied else DOUBLE_PAYMENT


def _sale_to_pay(sale_id: int, method: str) -> tuple[Sale, bool]:
    """The sale, locked and recalculated, and whether this request repeats one (double click, retry) that
    closed it already with the same method: then the paid sale is answered again, unchanged."""
    sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
    if sale is None:
        raise sales.SaleError("Transaksi tidak ditemukan.")
    if sale.status == SALE_PAID and sale.tenders and sale.tenders[-1].method == method:
        return sale, True
    if sale.status != SALE_OPEN:
        raise sales.SaleError("Transaksi ini sudah ditutup.")
    if not sale.items:
        raise sales.SaleError("Keranjang masih kosong.")
    sales.recalculate(sale)
    if sale.total <= 0:
        raise sales.SaleError(sales.ZERO_TOTAL)
    return sale, False


def _tender_amount(sale: Sale, amount: int | None) -> int:
    remaining = due(sale)
    if amount is None:
        return remaining
    if not 1 <= amount <= remaining:
        raise sales.SaleError(f"Nominal harus antara Rp 1 dan {format_rupiah(remaining)} (sisa tagihan).")
    return amount


def add_cash(sale_id: int, tendered: int, amount: int | None = None) -> Sale:
    """Cash for the sale: `amount` (default: what is due) is settled, the rest of `tendered` is change.
    Less cash than that is refused: a part payment in cash names its amount (a mistyped 1.000 for 10.000
    must not lock the cart on a part payment); the sale closes when covered. Cash settling the rest is
    rounded to the shop's step (cash_due), the rounding stored on the sale."""
    with write_transaction():
        sale, repeated = _sale_to_pay(sale_id, METHOD_CASH)
        if repeated:
            return sale
        amount, rounding = _tender_amount(sale, amount), 0
        if amount == due(sale):
            amount, rounding = cash_due(sale)
        if tendered < amount:
            raise sales.SaleError(f"Uang diterima kurang dari {format_rupiah(amount)}. Untuk bayar sebagian "
                                  "tunai, isi nominalnya di “Bayar sebagian tunai”.")
        sale.cash_rounding = rounding
        _take(sale, Tender(method=METHOD_CASH, amount=amount, tendered=tendered, change=tendered - amount))
    return sale


def add_debit(sale_id: int, edc_reference: str, amount: int | None = None) -> Sale:
    """A debit card payment approved on the EDC for `amount` (default: what is due)."""
    with write_transaction():
        sale, repeated = _sale_to_pay(sale_id, METHOD_DEBIT)
        if repeated:
            return sale
        _take(sale, Tender(method=METHOD_DEBIT, amount=_tender_amount(sale, amount), edc_reference=edc_reference))
    return sale


def parse_amount(text: str | None, label: str) -> int | None:
    """A typed amount (None when left empty); SaleError in the cashier's words when it is not rupiah."""
    if not (text or "").strip():
        return None
    try:
        return parse_rupiah(text, allow_zero=False)
    except MoneyError as exc:
        raise sales.SaleError(f"{label}: {exc}") from exc


def pay_cash(sale_id: int, tendered_text: str, amount_text: str | None = None) -> Sale:
    """The till's cash payment: what the customer handed over, and optionally the part of the sale it pays."""
    tendered = parse_amount(tendered_text, "Uang diterima")
    if tendered is None:
        raise sales.SaleError("Uang diterima: Nominal wajib diisi.")
    return add_cash(sale_id, tendered, parse_amount(amount_text, "Nominal"))


def pay_debit(sale_id: int, edc_reference: str, amount_text: str | None = None) -> Sale:
    """The till's debit payment: the EDC slip's reference, and optionally the part of the sale it pays."""
    reference = (edc_reference or "").strip()
    if not (reference.isalnum() and 4 <= len(reference) <= 40):
        raise sales.SaleError("Nomor referensi EDC wajib diisi (4–40 huruf/angka dari struk mesin EDC).")
    return add_debit(sale_id, reference, parse_amount(amount_text, "Nominal"))
