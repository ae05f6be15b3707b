"""Held bills: park the register's cart ("Simpan"), serve the next customer, resume it later ("Lanjutkan").

A parked cart is its own sale row moved to HELD with a held_bills row naming it, so it lives in the database
and survives reloads and restarts; the register then gets a fresh OPEN cart.
"""
from . import audit, sales
from .extensions import db
from .models import SALE_HELD, SALE_OPEN, HeldBill, Register, Sale, User
from .payments.models import Payment
from .sales import SaleError

EMPTY_CART = "Keranjang kosong: tidak ada yang disimpan."
NOT_EMPTY = "Keranjang masih berisi. Simpan atau kosongkan dulu sebelum melanjutkan tagihan lain."
NOT_FOUND = "Tagihan tersimpan tidak ditemukan (mungkin sudah dilanjutkan di tab lain)."


def held_bills(register: Register) -> list[HeldBill]:
    """The register's parked carts, oldest first."""
    return list(db.session.scalars(
        db.select(HeldBill).where(HeldBill.register_id == register.id).order_by(HeldBill.created_at, HeldBill.id)))


def park(sale: Sale, cashier: User) -> HeldBill:
    """Park the register's cart; refused if it is empty or locked (an open QR, or money already taken)."""
    if sale.status != SALE_OPEN or not sale.items:
        raise SaleError(EMPTY_CART)
    if (reason := sales.cart_lock(sale)) is not None:
        raise SaleError(f"Tidak bisa disimpan. {reason}")
    sale.status = SALE_HELD
    bill = HeldBill(register_id=sale.register_id, cashier=cashier, sale=sale)
    db.session.add(bill)
    db.session.flush()
    audit.record("Cart held", sales.cart_label(sale), detail=f"total={sale.total} items={sale.item_count}")
    return bill


def resume(register: Register, cashier: User, bill_id: int) -> Sale:
    """Make a parked cart the register's cart again; the current cart must be empty."""
    bill = db.session.scalar(
        db.select(HeldBill).where(HeldBill.id == bill_id, HeldBill.register_id == register.id).with_for_update())
    if bill is None:
        raise SaleError(NOT_FOUND)
    current = sales.current_sale(register, cashier)
    if current.items:
        raise SaleError(NOT_EMPTY)
    if (reason := sales.cart_lock(current)) is not None:
        raise SaleError(reason)
    held = bill.sale
    # The items move into the register's (empty) cart: that row keeps any QR history it has, and the
    # held row goes away unless a payment still names it (then it stays HELD, out of every list).
    for item in list(held.items):
        held.items.remove(item)
        current.items.append(item)
    current.discount, current.discount_percent = held.discount, held.discount_percent
    current.cashier = cashier
    db.session.delete(bill)
    if not db.session.scalar(db.select(Payment.id).where(Payment.sale_id == held.id).limit(1)):
        db.session.delete(held)
    sales.recalculate(current)
    db.session.flush()
    audit.record("Cart resumed", sales.cart_label(current), detail=f"held={held.id} total={current.total}")
    return current
