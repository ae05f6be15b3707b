"""Stock changes: every change of a product's stock goes through `move`, which writes the stock ledger
(`stock_movements`) in the same transaction, so the ledger always explains the stock."""
from sqlalchemy import update

from . import audit
from .database import write_transaction
from .extensions import db
from .models import Product, StockMovement

SALE = "SALE"
RECEIVED = "RECEIVED"
WASTE = "WASTE"
COUNT = "COUNT"
RETURN = "RETURN"
KINDS = (SALE, RECEIVED, WASTE, COUNT, RETURN)
# Staff adjustments from the back office: audited, a reason required.
ADJUSTMENTS = (RECEIVED, WASTE, COUNT)


def is_low():
    """The condition of an active product at or below its low-stock threshold (0 means no alert)."""
    return db.and_(Product.active.is_(True), Product.low_stock_threshold > 0,
                   Product.stock <= Product.low_stock_threshold)


class StockError(ValueError):
    """A stock rule refused the change; the message is shown to staff as is."""


def move(product_id: int, change: int, kind: str, reason: str, actor: str) -> StockMovement:
    """Change a product's stock by `change` (negative takes away) and write its ledger row, in one
    transaction (the caller's write transaction if inside one). Adjustments (RECEIVED, WASTE, COUNT) need a
    reason and are audited. Stock may go below zero on a SALE: the goods are already with the customer."""
    if kind not in KINDS:
        raise StockError("Jenis perubahan stok tidak dikenal.")
    if not isinstance(change, int) or isinstance(change, bool):
        raise StockError("Jumlah harus bilangan bulat.")
    reason = (reason or "").strip()[:200]
    if kind in ADJUSTMENTS and len(reason) < 3:
        raise StockError("Alasan perubahan stok wajib diisi.")
    with write_transaction():
        stock_after = db.session.execute(
            update(Product).where(Product.id == product_id).values(stock=Product.stock + change)
            .returning(Product.stock)
        ).scalar_one_or_none()
        if stock_after is None:
            raise StockError("Produk tidak ditemukan.")
        movement = StockMovement(product_id=product_id, change=change, stock_after=stock_after, kind=kind,
                                 reason=reason, actor=(actor or "system")[:40])
        db.session.add(movement)
        if kind in ADJUSTMENTS:
            audit.record("StockAdjust", f"product={product_id}", actor=actor,
                         detail=f"kind={kind} change={change} stock={stock_after} reason={reason}")
    return movement
