"""Cart and checkout rules, at the service level."""
import threading

import pytest

from kasir import sales, tenders
from kasir.extensions import db
from kasir.models import AuditLog, Product, Sale, User

# SKU0001 Indomie Goreng 3.500 (stock 120), SKU0006 Aqua 600 ml 4.000 (stock 96)


def stock(sku):
    db.session.commit()  # end this session's read snapshot: other threads may have written since
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def test_scanning_the_same_product_twice_adds_quantity(till):
    sale = till.add("SKU0001", "SKU0001")
    assert [(i.sku, i.quantity) for i in sale.items] == [("SKU0001", 2)]
    assert sale.total == 7000


def test_product_is_found_by_barcode(till):
    barcode = db.session.scalar(db.select(Product.barcode).where(Product.sku == "SKU0006"))
    assert till.add(barcode).total == 4000


def test_unknown_barcode_is_refused_with_the_code_in_the_message(till):
    with pytest.raises(sales.SaleError, match="999 tidak dikenal|“999” tidak dikenal"):
        till.add("999")


def test_inactive_product_cannot_be_sold(till):
    db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).active = False
    with pytest.raises(sales.SaleError):
        till.add("SKU0001")


@pytest.mark.parametrize("quantity", [0, -1, sales.MAX_QUANTITY + 1])
def test_quantity_outside_1_to_max_is_refused(till, quantity):
    sale = till.add("SKU0001")
    with pytest.raises(sales.SaleError):
        sales.set_quantity(sale, sale.items[0].id, quantity)


def test_line_discount_in_rupiah_and_percent(till):
    sale = till.add("SKU0006", "SKU0006")  # 2 x 4.000
    sales.set_line_discount(sale, sale.items[0].id, "1.000")
    assert sale.total == 7000
    sales.set_line_discount(sale, sale.items[0].id, "25%")
    assert sale.total == 6000


def test_percent_discount_follows_quantity_changes(till):
    sale = till.add("SKU0006")
    sales.set_line_discount(sale, sale.items[0].id, "10%")
    sales.set_quantity(sale, sale.items[0].id, 3)
    assert sale.items[0].discount == 1200
    assert sale.total == 10800


def test_total_discount_applies_after_line_discounts(till):
    sale = till.add("SKU0001", "SKU0006")  # 7.500
    sales.set_sale_discount(sale, "500")
    assert (sale.subtotal, sale.discount, sale.total) == (7500, 500, 7000)


@pytest.mark.parametrize("text", ["15.000,5", "-100", "110%", "abc"])
def test_invalid_discounts_are_refused(till, text):
    sale = till.add("SKU0001")
    with pytest.raises(sales.SaleError):
        sales.set_sale_discount(sale, text)


def test_discount_larger_than_the_line_is_refused(till):
    sale = till.add("SKU0001")
    with pytest.raises(sales.SaleError, match="melebihi"):
        sales.set_line_discount(sale, sale.items[0].id, "5000")


def test_cash_sale_commits_with_change_number_and_stock(till):
    sale = till.add("SKU0001", "SKU0006")
    paid = tenders.pay_cash(sale.id, "Rp 20.000")
    assert (paid.status, paid.method, paid.tendered, paid.change) == ("PAID", "CASH", 20000, 12500)
    assert paid.number == 1
    assert stock("SKU0001") == 119 and stock("SKU0006") == 95


def test_sale_numbers_count_up_per_register_per_day(till):
    first = tenders.pay_cash(till.add("SKU0001").id, "5000")
    second = tenders.pay_cash(till.add("SKU0001").id, "5000")
    assert (first.number, second.number) == (1, 2)
    assert second.display_number.endswith("-0002")


def test_cash_for_a_named_part_is_a_partial_tender_and_the_sale_stays_open(till):
    sale = till.add("SKU0006")
    paid = tenders.pay_cash(sale.id, "3.000", "3.000")
    assert (paid.status, tenders.received(paid), tenders.due(paid)) == ("OPEN", 3000, 1000)
    assert stock("SKU0006") == 96


def test_empty_cart_cannot_be_paid(till):
    sale = till.cart()
    db.session.commit()
    with pytest.raises(sales.SaleError, match="kosong"):
        tenders.pay_cash(sale.id, "1000")


def test_paying_the_same_sale_twice_makes_one_sale(till):
    sale = till.add("SKU0001")
    first = tenders.pay_cash(sale.id, "5000")
    again = tenders.pay_cash(sale.id, "5000")
    assert again.id == first.id
    assert db.session.scalar(db.select(db.func.count(Sale.id)).where(Sale.status == "PAID")) == 1
    assert stock("SKU0001") == 119


def test_concurrent_checkouts_of_one_cart_make_one_sale(app, till):
    sale_id = till.add("SKU0001").id
    outcomes = []

    def pay():
        with app.app_context():
            outcomes.append(tenders.pay_cash(sale_id, "5000").number)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [1] * 8
    assert stock("SKU0001") == 119


def test_debit_needs_the_edc_reference(till):
    sale = till.add("SKU0001")
    with pytest.raises(sales.SaleError, match="EDC"):
        tenders.pay_debit(sale.id, " ")
    paid = tenders.pay_debit(sale.id, "REF123456")
    assert (paid.method, paid.edc_reference, paid.change) == ("DEBIT", "REF123456", 0)


def test_void_restores_stock_keeps_reason_and_is_audited(till):
    paid = tenders.pay_cash(till.add("SKU0001").id, "5000")
    admin = db.session.scalar(db.select(User).where(User.role == "admin"))
    voided = sales.void_sale(paid.id, admin, "Salah input barang")
    assert (voided.status, voided.void_reason) == ("VOID", "Salah input barang")
    assert stock("SKU0001") == 120
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "VoidSale")).target == paid.display_number


def test_void_needs_a_reason(till):
    paid = tenders.pay_cash(till.add("SKU0001").id, "5000")
    admin = db.session.scalar(db.select(User).where(User.role == "admin"))
    with pytest.raises(sales.SaleError, match="Alasan"):
        sales.void_sale(paid.id, admin, "")


def test_price_change_does_not_rewrite_a_paid_sale(till):
    paid = tenders.pay_cash(till.add("SKU0001").id, "5000")
    db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).price = 9999
    db.session.commit()
    assert db.session.get(Sale, paid.id).items[0].unit_price == 3500
