"""Cart and sale rules: the OPEN sale of a register is its cart; paying numbers and closes it."""
import secrets
from dataclasses import dataclass
from datetime import timedelta

from blinker import Namespace
from sqlalchemy import bindparam, func, update
from sqlalchemy.orm import selectinload

from . import approvals, audit, stock
from .clock import business_date, utcnow
from .database import write_transaction
from .extensions import db
from .models import SALE_OPEN, SALE_PAID, SALE_VOID, Product, Register, Sale, SaleItem, Tender, User
from .money import MoneyError, format_rupiah, parse_rupiah
from .payments import states
from .payments.models import Payment
from .settings import tax_settings
from .tax import TaxItem, compute_tax

MAX_QUANTITY = 9999
THANKS_SECONDS = timedelta(seconds=6)
ZERO_TOTAL = "Total Rp 0 tidak bisa dibayar. Periksa diskon, atau kosongkan keranjang."

signals = Namespace()
# Sent with the sale when it is paid, inside the transaction that marks it PAID (the receipt's print job joins it).
sale_paid = signals.signal("sale-paid")


class SaleError(ValueError):
    """A sale rule refused the action; the message is shown to the cashier as is."""


@dataclass(frozen=True)
class Discount:
    amount: int = 0
    percent: int | None = None

    def of(self, gross: int) -> int:
        value = gross * self.percent // 100 if self.percent is not None else self.amount
        return min(value, gross)


def parse_discount(text: str) -> Discount:
    """"10%" is a percentage, anything else a rupiah amount; empty clears the discount."""
    text = (text or "").strip()
    if not text:
        return Discount()
    if text.endswith("%"):
        number = text[:-1].strip().replace(",", ".")
        if not number.isdigit() or not 0 <= int(number) <= 100:
            raise SaleError("Diskon persen harus angka bulat 0–100, contoh 10%.")
        return Discount(percent=int(number))
    try:
        return Discount(amount=parse_rupiah(text))
    except MoneyError as exc:
        raise SaleError(f"Diskon tidak valid: {exc}") from exc


# Built once: tills and displays look their register up on every poll.
_ACTIVE_REGISTER = db.select(Register).where(Register.code == bindparam("code"), Register.active.is_(True))


def find_register(code: str | None) -> Register | None:
    if not code:
        return None
    return db.session.scalar(_ACTIVE_REGISTER, {"code": code})


def current_sale(register: Register, cashier: User) -> Sale:
    """The register's cart, created on first use; its lines and their products in two queries (a scan
    recalculates every line, tax exemption included: lazy loads cost a query per line)."""
    sale = db.session.scalar(
        db.select(Sale).where(Sale.register_id == register.id, Sale.status == SALE_OPEN).order_by(Sale.id)
        .options(selectinload(Sale.items).joinedload(SaleItem.product))
    )
    if sale is None:
        sale = Sale(register=register, cashier=cashier, status=SALE_OPEN, subtotal=0, discount=0, total=0)
        db.session.add(sale)
        db.session.flush()
    elif sale.cashier_id != cashier.id:
        sale.cashier = cashier
    return sale


def find_product_by_code(code: str) -> Product | None:
    code = code.strip()
    if not code:
        return None
    return db.session.scalar(
        db.select(Product).where(Product.active.is_(True), (Product.barcode == code) | (Product.sku == code))
    )


def cart_lock(sale: Sale) -> str | None:
    """Why the cart may not change now, or None (DESIGN §3): a QR is open for it, or money was already taken.

    The amount the customer was asked for must stay the cart's total: the cashier cancels the open QR first.
    """
    open_amount = db.session.scalar(db.select(Payment.amount).where(
        Payment.sale_id == sale.id, Payment.status == states.PENDING).order_by(Payment.created_at.desc()).limit(1))
    if open_amount is not None:
        return f"Keranjang terkunci: QR aktif {format_rupiah(open_amount)}. Batalkan QR dulu."
    received = db.session.scalar(db.select(func.sum(Tender.amount)).where(Tender.sale_id == sale.id))
    if received:
        return f"Keranjang terkunci: sudah dibayar {format_rupiah(received)}. Selesaikan sisa pembayaran."
    return None


def _ensure_editable(sale: Sale) -> None:
    if (reason := cart_lock(sale)) is not None:
        raise SaleError(reason)


def recalculate(sale: Sale) -> None:
    for item in sale.items:
        item.discount = Discount(item.discount, item.discount_percent).of(item.gross)
    sale.subtotal = sum(item.line_total for item in sale.items)
    sale.discount = Discount(sale.discount, sale.discount_percent).of(sale.subtotal)
    rule = tax_settings()
    figures = compute_tax([TaxItem(item.line_total, bool(item.product and item.product.tax_exempt))
                           for item in sale.items], rule, sale.discount)
    sale.total = figures.total
    sale.service_charge, sale.tax_dpp, sale.tax_ppn, sale.tax_pbjt = (figures.service, figures.dpp, figures.ppn,
                                                                       figures.pbjt)
    sale.tax_rule = rule.to_text() if rule.enabled else None


def _item(sale: Sale, item_id: int) -> SaleItem:
    for item in sale.items:
        if item.id == item_id:
            return item
    raise SaleError("Barang tidak ada di keranjang.")


def add_product(sale: Sale, product: Product, quantity: int = 1) -> SaleItem:
    _ensure_editable(sale)
    if not product.active:
        raise SaleError(f"{product.name} tidak aktif dijual.")
    item = next((i for i in sale.items if i.product_id == product.id and not i.discount_percent and not i.discount),
                None)
    if item is None:
        item = SaleItem(product=product, name=product.name, sku=product.sku, unit_price=product.price, quantity=0,
                        discount=0)
        sale.items.append(item)
    _set_quantity(sale, item, item.quantity + quantity)
    return item


def add_by_code(sale: Sale, code: str) -> SaleItem:
    product = find_product_by_code(code)
    if product is None:
        raise SaleError(f"Barcode/SKU “{code.strip()[:40]}” tidak dikenal.")
    return add_product(sale, product)


def set_quantity(sale: Sale, item: SaleItem | int, quantity: int) -> None:
    _ensure_editable(sale)
    _set_quantity(sale, item if isinstance(item, SaleItem) else _item(sale, item), quantity)


def _set_quantity(sale: Sale, item: SaleItem, quantity: int) -> None:
    if quantity < 1:
        raise SaleError("Jumlah minimal 1. Gunakan tombol hapus untuk membuang barang.")
    if quantity > MAX_QUANTITY:
        raise SaleError(f"Jumlah maksimal {MAX_QUANTITY}.")
    item.quantity = quantity
    recalculate(sale)


def remove_item(sale: Sale, item_id: int) -> None:
    _ensure_editable(sale)
    sale.items.remove(_item(sale, item_id))
    recalculate(sale)


def clear(sale: Sale) -> None:
    _ensure_editable(sale)
    sale.items.clear()
    sale.discount, sale.discount_percent = 0, None
    recalculate(sale)


def cart_label(sale: Sale) -> str:
    """How the audit log names a cart that has no sale number yet."""
    return f"Keranjang {sale.register.code} #{sale.id}"


def _approve_discount(sale: Sale, discount: Discount, base: int, approver: User | None, what: str, line: str) -> None:
    """Check the cashier's discount limit (over it needs `approver`) and audit the discount: who, how much,
    approved by whom."""
    amount = discount.of(base)
    approved_by = approvals.check_discount(sale.cashier, amount, base, approver, what) if sale.cashier else None
    audit.record("Discount", cart_label(sale),
                 detail=f"{line} amount={amount} percent={discount.percent if discount.percent is not None else '-'} "
                        f"of={base} approved_by={approved_by.username if approved_by else '-'}")


def set_line_discount(sale: Sale, item_id: int, text: str, approver: User | None = None) -> None:
    _ensure_editable(sale)
    item = _item(sale, item_id)
    discount = parse_discount(text)
    if discount.percent is None and discount.amount > item.gross:
        raise SaleError("Diskon melebihi harga barang.")
    _approve_discount(sale, discount, item.gross, approver, f"Diskon {item.name}", f"line={item.sku}")
    item.discount, item.discount_percent = discount.amount, discount.percent
    recalculate(sale)


def set_sale_discount(sale: Sale, text: str, approver: User | None = None) -> None:
    _ensure_editable(sale)
    discount = parse_discount(text)
    if discount.percent is None and discount.amount > sale.subtotal:
        raise SaleError("Diskon melebihi total belanja.")
    _approve_discount(sale, discount, sale.subtotal, approver, "Diskon total", "sale")
    sale.discount, sale.discount_percent = discount.amount, discount.percent
    recalculate(sale)


def _next_number(register_id: int, day) -> int:
    highest = db.session.scalar(
        db.select(func.max(Sale.number)).where(Sale.register_id == register_id, Sale.business_date == day)
    )
    return (highest or 0) + 1


def _move_stock(sale: Sale, direction: int, actor: str | None = None) -> None:
    # Stock may go below zero: the goods are already in the customer's hands, the count was wrong.
    kind = stock.SALE if direction < 0 else stock.RETURN
    reason = f"Transaksi {sale.display_number}" if direction < 0 else f"Batal {sale.display_number}"
    for item in sale.items:
        stock.move(item.product_id, direction * item.quantity, kind, reason, actor or "system")


def reserve_number(sale: Sale) -> None:
    """Give a sale its number before it is paid (a QRIS order id carries it); keeps an existing one."""
    if sale.number is None:
        sale.business_date = business_date()
        sale.number = _next_number(sale.register_id, sale.business_date)


def mark_paid(sale: Sale, method: str) -> None:
    """Close an OPEN sale inside the caller's write transaction: number, stock, paid time, receipt."""
    reserve_number(sale)
    sale.method = method
    sale.status = SALE_PAID
    sale.paid_at = utcnow()
    sale.receipt_token = sale.receipt_token or secrets.token_urlsafe(24)
    _move_stock(sale, -1, sale.cashier.username if sale.cashier else None)
    show_thanks_on_display(sale.register_id)
    sale_paid.send(sale)


def check_void_reason(reason: str | None) -> str:
    """The reason for voiding a sale, required (at least 3 characters), at most 200."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise SaleError("Alasan pembatalan wajib diisi.")
    return reason[:200]


def void_sale(sale_id: int, admin: User, reason: str) -> Sale:
    """Void a paid sale, approved by `admin` (a supervisor): stock comes back, the reason is kept and audited
    with who asked and who approved."""
    reason = check_void_reason(reason)
    with write_transaction():
        sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        if sale is None or sale.status != SALE_PAID:
            raise SaleError("Hanya transaksi yang sudah dibayar yang bisa dibatalkan.")
        sale.status = SALE_VOID
        sale.voided_at = utcnow()
        sale.voided_by = admin
        sale.void_reason = reason
        _move_stock(sale, +1, admin.username)
        audit.record("VoidSale", sale.display_number,
                     detail=f"total={sale.total} approved_by={admin.username} reason={reason}")
    return sale


def touch_display(register_id: int, **values) -> None:
    """Tell the register's customer display that what it shows has changed."""
    db.session.execute(update(Register).where(Register.id == register_id)
                       .values(display_version=Register.display_version + 1, **values))


def screens_version(display_version: int) -> str:
    """What the till's money bar and the display show is current while this is: the register's display version on
    this business day (a new day drops the day before's unapplied money from both with no change at the till)."""
    return f"{display_version}.{business_date().isoformat()}"


def show_thanks_on_display(register_id: int) -> None:
    touch_display(register_id, display_thanks_until=utcnow() + THANKS_SECONDS)


def paid_sales_today(register: Register | None = None) -> list[Sale]:
    query = db.select(Sale).where(Sale.business_date == business_date(), Sale.status.in_([SALE_PAID, SALE_VOID]))
    if register is not None:
        query = query.where(Sale.register_id == register.id)
    return list(db.session.scalars(query.order_by(Sale.paid_at.desc())))


def touch_all_displays() -> None:
    """Tell every customer display to redraw (a shop setting it shows has changed)."""
    db.session.execute(update(Register).values(display_version=Register.display_version + 1))
