"""kasir.stock.move: every stock change writes its ledger row in the same transaction; sales go through it."""
import pytest

from kasir import sales, stock, tenders
from kasir.database import write_transaction
from kasir.extensions import db
from kasir.models import AuditLog, Product, StockMovement, User
from support.config import CASHIER

# SKU0001 Indomie Goreng 3.500 (stock 120), SKU0006 Aqua 600 ml 4.000 (stock 96)


def product_id(sku):
    return db.session.scalar(db.select(Product.id).where(Product.sku == sku))


def stock_of(sku):
    db.session.commit()
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def movements(sku):
    db.session.commit()
    return db.session.execute(
        db.select(StockMovement.kind, StockMovement.change, StockMovement.stock_after, StockMovement.actor)
        .where(StockMovement.product_id == product_id(sku)).order_by(StockMovement.id)
    ).all()


def test_move_changes_stock_and_writes_its_ledger_row(till):
    movement = stock.move(product_id("SKU0001"), 24, stock.RECEIVED, "Kiriman distributor", "admin")
    assert stock_of("SKU0001") == 144
    assert (movement.kind, movement.change, movement.stock_after, movement.reason) == (
        "RECEIVED", 24, 144, "Kiriman distributor")
    assert movements("SKU0001") == [("RECEIVED", 24, 144, "admin")]


def test_an_adjustment_is_audited_with_its_kind_and_reason(till):
    stock.move(product_id("SKU0001"), -3, stock.WASTE, "Kemasan rusak", "admin")
    entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "StockAdjust"))
    assert entry.actor == "admin"
    assert "kind=WASTE" in entry.detail and "change=-3" in entry.detail and "Kemasan rusak" in entry.detail


def test_an_adjustment_without_a_reason_is_refused_and_changes_nothing(till):
    with pytest.raises(stock.StockError, match="Alasan"):
        stock.move(product_id("SKU0001"), -3, stock.WASTE, " ", "admin")
    assert stock_of("SKU0001") == 120 and movements("SKU0001") == []


def test_an_unknown_kind_is_refused(till):
    with pytest.raises(stock.StockError):
        stock.move(product_id("SKU0001"), 1, "GIFT", "Hadiah", "admin")
    assert stock_of("SKU0001") == 120


def test_an_unknown_product_is_refused_and_writes_no_row(till):
    with pytest.raises(stock.StockError, match="Produk"):
        stock.move(999999, 1, stock.RECEIVED, "Kiriman", "admin")
    assert db.session.scalar(db.select(db.func.count(StockMovement.id))) == 0


def test_a_move_inside_a_failed_transaction_rolls_back_with_it(till):
    with pytest.raises(RuntimeError), write_transaction():
        stock.move(product_id("SKU0001"), 5, stock.COUNT, "Stok opname", "admin")
        raise RuntimeError("the caller's step failed")
    assert stock_of("SKU0001") == 120 and movements("SKU0001") == []


def test_a_paid_sale_decrements_stock_through_the_ledger(till):
    tenders.pay_cash(till.add("SKU0001", "SKU0001", "SKU0006").id, "Rp 20.000")
    assert stock_of("SKU0001") == 118 and stock_of("SKU0006") == 95
    assert movements("SKU0001") == [("SALE", -2, 118, CASHIER[0])]


def test_a_voided_sale_returns_its_stock_through_the_ledger(till):
    paid = tenders.pay_cash(till.add("SKU0001").id, "5000")
    admin = db.session.scalar(db.select(User).where(User.role == "admin"))
    sales.void_sale(paid.id, admin, "Salah input barang")
    assert [row.kind for row in movements("SKU0001")] == ["SALE", "RETURN"]
    assert stock_of("SKU0001") == 120
