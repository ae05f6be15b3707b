"""Returns refunded back through the gateway to the sale's QRIS payment (kasir/returns.py, METHOD_QRIS)."""
import pytest

from kasir import returns, sales, tenders
from kasir.clock import business_date
from kasir.extensions import db
from kasir.models import AuditLog, Product, SaleReturn, User
from kasir.payments import charges, service, states
from kasir.payments import refunds as payment_refunds
from kasir.payments.models import Payment
from kasir.payments.providers.base import ProviderError
from kasir.payments.providers.mock import MockProvider
from kasir.reports import daily, shifts
from kasir.settings import set_tax_settings
from kasir.tax import TaxSettings
from support.config import CASHIER
from support.databases import fresh
from support.payments import gateway_pays

# SKU0001 Indomie Goreng 3.500 (stock 120), SKU0006 Aqua 600 ml 4.000 (stock 96)


def user(role=None, username=None):
    query = db.select(User).where(User.role == role) if role else db.select(User).where(User.username == username)
    return db.session.scalar(query)


def stock(sku):
    db.session.commit()
    return db.session.scalar(db.select(Product.stock).where(Product.sku == sku))


def qris_pays(sale, amount=None):
    """A mock QR for `amount` (default: all that is due) paid at the gateway and by its webhook."""
    payment = charges.create_for_sale(sale.id, amount)
    gateway_pays(payment)
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)
    return fresh(Payment, payment.id)


def paid_by_qris(till, *skus):
    sale = till.add(*skus)
    payment = qris_pays(sale)
    return fresh(type(sale), sale.id), payment


def give_back(sale, lines, method=returns.METHOD_QRIS):
    return returns.create_return(sale.id, lines, method, user(username=CASHIER[0]), user(role="admin"))


def line(sale, sku):
    return next(item.id for item in sale.items if item.sku == sku)


def refunded(payment):
    return payment_refunds.refunded_amount(fresh(Payment, payment.id))


def test_a_partial_qris_return_refunds_its_value_through_the_gateway(till):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")
    back = give_back(sale, {line(sale, "SKU0006"): 1})
    assert (back.method, back.amount, back.qris_amount, back.cash_amount) == ("QRIS", 4000, 4000, 0)
    assert back.payment_id == payment.id and back.refund_key == f"RT-{sale.id}-1"
    assert refunded(payment) == 4000 and fresh(Payment, payment.id).status == states.PAID
    assert stock("SKU0006") == 96


def test_a_qris_return_with_tax_and_discount_refunds_the_returned_share(till):
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False))  # PPN 12 % of DPP 11/12
    db.session.commit()
    sale = till.add("SKU0006", "SKU0006")  # 8.000
    sales.set_sale_discount(sale, "10%", approver=user(role="admin"))  # 7.200: DPP 6.600, PPN 792
    db.session.commit()
    payment = qris_pays(sale)
    sale = fresh(type(sale), sale.id)
    assert sale.total == 7992
    back = give_back(sale, {line(sale, "SKU0006"): 1})
    assert (back.amount, back.qris_amount) == (3996, 3996) and refunded(payment) == 3996


def test_two_partial_qris_returns_add_up_to_the_payment(till):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0001", "SKU0006")
    first = give_back(sale, {line(sale, "SKU0001"): 1})
    second = give_back(sale, {line(sale, "SKU0001"): 1, line(sale, "SKU0006"): 1})
    assert first.qris_amount + second.qris_amount == sale.total == refunded(payment)
    assert second.refund_key == f"RT-{sale.id}-2"
    assert fresh(Payment, payment.id).status == states.REFUNDED


def test_a_replayed_refund_key_refunds_once(till, monkeypatch):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")
    asked = []
    real = MockProvider.refund
    monkeypatch.setattr(MockProvider, "refund", lambda self, *args: asked.append(args) or real(self, *args))
    key = returns.next_refund_key(sale)
    # The gateway said yes and the refund was recorded, then the process died before the return was committed.
    payment_refunds.refund(payment, 4000, "Retur", "kasir1", refund_key=key, for_return=True)
    assert returns.pending_refund(fresh(type(sale), sale.id)) == 4000
    back = give_back(sale, {line(sale, "SKU0006"): 1})
    assert len(asked) == 1 and refunded(payment) == 4000 and back.refund_key == key
    assert returns.pending_refund(fresh(type(sale), sale.id)) == 0


def test_a_pending_refund_for_other_goods_is_named_and_not_sent_again(till):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")
    payment_refunds.refund(payment, 4000, "Retur", "kasir1", refund_key=returns.next_refund_key(sale), for_return=True)
    with pytest.raises(returns.ReturnError, match="sudah terkirim"):
        give_back(sale, {line(sale, "SKU0001"): 1})
    assert refunded(payment) == 4000 and db.session.scalar(db.select(db.func.count(SaleReturn.id))) == 0


def test_a_refusing_gateway_records_nothing_and_says_so(till, monkeypatch):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")

    def refuse(self, *args):
        raise ProviderError("timeout", code="unavailable")

    monkeypatch.setattr(MockProvider, "refund", refuse)
    with pytest.raises(returns.ReturnError, match="Refund QRIS gagal.*stok tidak berubah.*Tunai"):
        give_back(sale, {line(sale, "SKU0006"): 1})
    assert stock("SKU0006") == 95 and refunded(payment) == 0
    assert db.session.scalar(db.select(db.func.count(SaleReturn.id))) == 0


def test_after_a_refusal_the_same_return_can_be_retried_at_once(till, monkeypatch):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")
    monkeypatch.setattr(MockProvider, "refund", lambda self, *args: (_ for _ in ()).throw(ProviderError("x")))
    with pytest.raises(returns.ReturnError):
        give_back(sale, {line(sale, "SKU0006"): 1})
    monkeypatch.undo()
    assert give_back(sale, {line(sale, "SKU0006"): 1}).qris_amount == 4000


def test_a_fresh_claim_of_another_request_is_waited_for(till):
    sale, payment = paid_by_qris(till, "SKU0001", "SKU0006")
    db.session.add(AuditLog(action=returns.CLAIM, target=returns.next_refund_key(sale), actor="kasir1"))
    db.session.commit()
    with pytest.raises(returns.ReturnError, match="sedang diproses"):
        give_back(sale, {line(sale, "SKU0006"): 1})
    assert refunded(payment) == 0


def test_a_split_sale_refunds_qris_up_to_its_qris_part_and_the_rest_in_cash(till):
    sale = till.add("SKU0001", "SKU0006")  # 7.500: 5.000 by QRIS, 2.500 cash
    payment = qris_pays(sale, 5000)
    sale = tenders.pay_cash(sale.id, "2.500")
    first = give_back(sale, {line(sale, "SKU0006"): 1})
    assert (first.amount, first.qris_amount, first.cash_amount) == (4000, 4000, 0)
    second = give_back(sale, {line(sale, "SKU0001"): 1})
    assert (second.amount, second.qris_amount, second.cash_amount) == (3500, 1000, 2500)
    assert returns.describe_amount(second) == "Dikembalikan ke QRIS Rp 1.000; Kembalikan tunai Rp 2.500"
    assert refunded(payment) == 5000


def test_qris_never_refunds_more_than_the_qris_part_left(till):
    sale = till.add("SKU0001", "SKU0006")
    payment = qris_pays(sale, 5000)
    sale = tenders.pay_cash(sale.id, "2.500")
    payment_refunds.refund(payment, 5000, "kelebihan", "admin")  # all of it given back at the till's refund
    with pytest.raises(returns.ReturnError, match="Tidak ada pembayaran QRIS"):
        give_back(sale, {line(sale, "SKU0006"): 1})
    assert returns.qris_refundable(fresh(type(sale), sale.id)) is None


def test_a_cash_sale_offers_no_qris_refund(till):
    sale = tenders.pay_cash(till.add("SKU0001").id, "10.000")
    assert returns.qris_refundable(sale) is None
    with pytest.raises(returns.ReturnError, match="Pilih Tunai"):
        give_back(sale, {line(sale, "SKU0001"): 1})


def test_a_qris_return_does_not_lower_the_shifts_expected_cash(till):
    shift = shifts.open_shift(till.cart().register, user(username=CASHIER[0]), "100.000")
    db.session.commit()
    sale = till.add("SKU0001", "SKU0006")
    qris_pays(sale, 5000)
    sale = tenders.pay_cash(sale.id, "2.500")
    give_back(sale, {line(sale, "SKU0006"): 1})  # all to QRIS
    give_back(sale, {line(sale, "SKU0001"): 1})  # 1.000 QRIS, 2.500 cash
    summary = shifts.summarize(shift)
    assert (summary.cash_refunds, summary.expected_cash) == (2500, 100000)


def test_the_day_report_shows_returns_by_method_and_counts_them_once(till):
    sale, _payment = paid_by_qris(till, "SKU0001", "SKU0006")
    give_back(sale, {line(sale, "SKU0006"): 1})
    cash_sale = tenders.pay_cash(till.add("SKU0001").id, "10.000")
    give_back(cash_sale, {line(cash_sale, "SKU0001"): 1}, method=returns.METHOD_CASH)
    report = daily.build_report(business_date())
    assert (report.return_count, report.return_total, report.return_cash, report.return_qris) == (2, 7500, 3500, 4000)
    assert (report.refund_count, report.refund_of_sales) == (0, 0)  # the QRIS return is not a refund as well
    assert report.net_total == report.gross_total - 7500
