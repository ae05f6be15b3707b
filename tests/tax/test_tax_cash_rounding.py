"""Cash rounding (docs/tax.md): cash settling the rest of a sale is rounded to the shop's step, the signed
difference is stored on the sale, counted by the money rule, shown at the till and on the receipt, reported."""
from kasir import tenders
from kasir.extensions import db
from kasir.models import Register, Sale
from kasir.payments import charges, service, states
from kasir.printing.layout import build_receipt
from kasir.reports import daily, shifts
from kasir.settings import set_tax_settings, shop_profile
from kasir.tax import TaxSettings
from support.databases import fresh

# SKU0006 Aqua 600 ml 4.000: with exclusive PPN the total is 4.440


def rounding_to(step: int) -> None:
    set_tax_settings(TaxSettings(enabled=True, prices_include_tax=False, cash_rounding=step))
    db.session.commit()


def test_cash_is_rounded_down_and_the_customer_pays_less(till):
    rounding_to(100)
    sale = tenders.pay_cash(till.add("SKU0006").id, "5.000")
    assert (sale.status, sale.total, sale.cash_rounding, sale.change) == ("PAID", 4_440, -40, 600)
    assert [(t.method, t.amount) for t in sale.tenders] == [("CASH", 4_400)]
    assert (tenders.received(sale), tenders.due(sale)) == (4_440, 0)


def test_cash_is_rounded_up_to_the_nearest_500(till):
    rounding_to(500)
    sale = tenders.pay_cash(till.add("SKU0006").id, "4.500")
    assert (sale.status, sale.cash_rounding, sale.change) == ("PAID", 60, 0)
    assert [t.amount for t in sale.tenders] == [4_500]


def test_exact_rounded_cash_pays_a_sale_the_total_would_not(till):
    rounding_to(100)
    sale = tenders.pay_cash(till.add("SKU0006").id, "4.400")
    assert (sale.status, sale.change) == ("PAID", 0)


def test_cash_is_not_rounded_while_rounding_is_off(till):
    rounding_to(0)
    sale = tenders.pay_cash(till.add("SKU0006").id, "5.000")
    assert (sale.cash_rounding, sale.change, sale.tenders[0].amount) == (0, 560, 4_440)


def test_a_debit_payment_is_never_rounded(till):
    rounding_to(100)
    sale = tenders.pay_debit(till.add("SKU0006").id, "EDC1234")
    assert (sale.status, sale.cash_rounding, sale.tenders[0].amount) == ("PAID", 0, 4_440)


def test_a_qris_payment_is_never_rounded(till):
    rounding_to(100)
    payment = charges.create_for_sale(till.add("SKU0006").id)
    assert payment.amount == 4_440
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)
    sale = fresh(Sale, payment.sale_id)
    assert (sale.status, sale.cash_rounding) == ("PAID", 0)


def test_a_part_payment_in_cash_is_not_rounded(till):
    rounding_to(100)
    sale = tenders.pay_cash(till.add("SKU0006").id, "2.000", "1.950")
    assert (sale.status, sale.cash_rounding, tenders.due(sale)) == ("OPEN", 0, 2_490)


def test_split_tender_rounds_only_the_cash_rest_after_a_qris_part(till):
    rounding_to(100)
    sale = till.add("SKU0006", "SKU0006")  # 8.880
    payment = charges.create_for_sale(sale.id, 5_000)
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)
    paid = tenders.pay_cash(sale.id, "4.000")  # rest 3.880 -> 3.900
    assert (paid.status, paid.method, paid.cash_rounding, paid.change) == ("PAID", "SPLIT", 20, 100)
    assert [(t.method, t.amount) for t in paid.tenders] == [("QRIS", 5_000), ("CASH", 3_900)]


def test_the_receipt_shows_the_rounding_and_what_was_paid(till):
    rounding_to(100)
    sale = tenders.pay_cash(till.add("SKU0006").id, "5.000")
    text = "\n".join(line.text for line in build_receipt(sale, shop_profile(), 58).lines)
    assert "Pembulatan" in text and "-40" in text
    assert "Total dibayar" in text and "Rp 4.400" in text


def test_the_day_report_sums_the_rounding(till):
    rounding_to(100)
    first = tenders.pay_cash(till.add("SKU0006").id, "5.000")  # -40
    rounding_to(500)
    tenders.pay_cash(till.add("SKU0006").id, "5.000")  # +60
    report = daily.build_report(first.business_date)
    assert report.tax["cash_rounding"] == 20


def test_the_shift_expects_the_cash_actually_taken(till):
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    shift = shifts.open_shift(register, till.cart().cashier, "100.000")
    db.session.commit()
    rounding_to(100)
    tenders.pay_cash(till.add("SKU0006").id, "5.000")
    assert shifts.summarize(shift).expected_cash == 104_400


def test_the_cash_panel_shows_the_rounding_and_the_rounded_amount(app, auth, htmx):
    with app.app_context():
        rounding_to(100)
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0006"})
    page = htmx.get("/pos/pay/cash").get_data(as_text=True)
    assert "Pembulatan -Rp 40" in page
    assert "Bayar tunai <strong>Rp 4.400</strong>" in page
    assert 'data-total="4400"' in page
