"""Returns at the till (kasir/returns.py): what comes back, what is refunded, who approves."""
import pytest

from kasir import returns, sales, tenders
from kasir.approvals import ApprovalNeeded
from kasir.clock import business_date
from kasir.extensions import db
from kasir.models import AuditLog, Product, User
from kasir.reports import daily, shifts
from kasir.settings import set_tax_settings
from kasir.tax import TaxSettings
from support.config import CASHIER

# SKU0001 Indomie Goreng 3.500 (stock 120), SKU0006 Aqua 600 ml 4.000 (stock 96)


def stock(sku):
    db.session.commit()
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def user(role=None, username=None):
    query = db.select(User).where(User.role == role) if role else db.select(User).where(User.username == username)
    return db.session.scalar(query)


def paid(till, *skus, cash="100000"):
    return tenders.pay_cash(till.add(*skus).id, cash)


def give_back(sale, lines, approver="admin"):
    cashier = user(username=CASHIER[0])
    return returns.create_return(sale, lines, returns.METHOD_CASH, cashier,
                                 user(role="admin") if approver else None)


def line(sale, sku):
    return next(item.id for item in sale.items if item.sku == sku)


def test_partial_return_refunds_the_returned_units(till):
    sale = paid(till, "SKU0001", "SKU0001", "SKU0006")
    back = give_back(sale, {line(sale, "SKU0001"): 1})
    assert back.amount == 3500
    assert [(item.quantity, item.amount) for item in back.items] == [(1, 3500)]


def test_partial_returns_add_up_to_the_sale_total(till):
    sale = paid(till, "SKU0001", "SKU0001", "SKU0006")
    sales_total = sale.total
    first = give_back(sale, {line(sale, "SKU0001"): 1})
    second = give_back(sale, {line(sale, "SKU0001"): 1, line(sale, "SKU0006"): 1})
    assert first.amount + second.amount == sales_total
    assert second.number == 2


def test_sale_discount_is_shared_by_the_returned_lines(till):
    sale = till.add("SKU0001", "SKU0006")  # 7.500
    sales.set_sale_discount(sale, "10%", approver=user(role="admin"))
    db.session.commit()
    sale = tenders.pay_cash(sale.id, "100000")
    assert give_back(sale, {line(sale, "SKU0006"): 1}).amount == 3600


def test_returning_more_than_was_sold_is_refused(till):
    sale = paid(till, "SKU0001")
    with pytest.raises(returns.ReturnError, match="paling banyak 1"):
        give_back(sale, {line(sale, "SKU0001"): 2})


def test_returning_again_what_was_already_returned_is_refused(till):
    sale = paid(till, "SKU0001")
    give_back(sale, {line(sale, "SKU0001"): 1})
    with pytest.raises(returns.ReturnError, match="paling banyak 0"):
        give_back(sale, {line(sale, "SKU0001"): 1})


def test_nothing_chosen_is_refused(till):
    sale = paid(till, "SKU0001")
    with pytest.raises(returns.ReturnError, match="Pilih barang"):
        give_back(sale, {line(sale, "SKU0001"): 0})


def test_an_unpaid_sale_cannot_be_returned(till):
    sale = till.add("SKU0001")
    with pytest.raises(returns.ReturnError, match="belum dibayar"):
        give_back(sale, {line(sale, "SKU0001"): 1})


def test_a_cashier_needs_a_supervisor(till):
    sale = paid(till, "SKU0001")
    with pytest.raises(ApprovalNeeded):
        give_back(sale, {line(sale, "SKU0001"): 1}, approver=None)
    assert stock("SKU0001") == 119


def test_returned_goods_come_back_to_stock_and_are_audited(till):
    sale = paid(till, "SKU0001", "SKU0001")
    give_back(sale, {line(sale, "SKU0001"): 2})
    assert stock("SKU0001") == 120
    entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaleReturn"))
    assert entry.target == sale.display_number and "amount=7000" in entry.detail


def test_the_receipt_number_finds_the_sale(till):
    sale = paid(till, "SKU0001")
    assert returns.find_sale(sale.display_number.lower()).id == sale.id
    with pytest.raises(returns.ReturnError, match="tidak ditemukan"):
        returns.find_sale("9-000000-0001")


def test_partial_return_with_tax_uses_the_sales_own_rule(till):
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False))  # PPN 12 % of DPP 11/12
    db.session.commit()
    sale = paid(till, "SKU0006", "SKU0006")  # 8.000: DPP 7.333, PPN 880, total 8.880
    assert sale.total == 8880
    set_tax_settings(TaxSettings())  # today's settings changed: the sale's rule still applies
    db.session.commit()
    first = give_back(sale, {line(sale, "SKU0006"): 1})
    assert first.amount == 4440
    assert first.amount + give_back(sale, {line(sale, "SKU0006"): 1}).amount == 8880


def test_a_cash_refund_lowers_the_shifts_expected_cash(till):
    cashier = user(username=CASHIER[0])
    shift = shifts.open_shift(till.cart().register, cashier, "100.000")
    db.session.commit()
    sale = paid(till, "SKU0001", "SKU0006", cash="7.500")
    give_back(sale, {line(sale, "SKU0006"): 1})
    summary = shifts.summarize(shift)
    assert (summary.cash_sales, summary.cash_refunds, summary.expected_cash) == (7500, 4000, 103500)


def test_the_day_report_shows_returns_and_nets_them(till):
    sale = paid(till, "SKU0001", "SKU0006")
    give_back(sale, {line(sale, "SKU0006"): 1})
    report = daily.build_report(business_date())
    assert (report.return_count, report.return_total) == (1, 4000)
    assert report.net_total == report.gross_total - report.refund_of_sales - 4000
