"""The till with tax on: the cart's total carries the shop's tax rule and the sale keeps its figures."""
from kasir import sales, tenders
from kasir.extensions import db
from kasir.models import Product, Sale
from kasir.settings import set_tax_settings, tax_settings
from kasir.tax import TaxSettings

# SKU0001 Indomie Goreng 3.500, SKU0006 Aqua 600 ml 4.000


def turn_on(rule: TaxSettings) -> None:
    set_tax_settings(rule)
    db.session.commit()


def test_tax_is_off_until_the_shop_sets_it(till):
    sale = till.add("SKU0001")
    assert tax_settings() == TaxSettings()
    assert (sale.total, sale.tax_ppn, sale.tax_rule) == (3_500, 0, None)


def test_exclusive_ppn_is_added_to_the_cart_total(till):
    turn_on(TaxSettings(enabled=True, prices_include_tax=False))
    sale = till.add("SKU0006", "SKU0006")  # 8.000, DPP 7.333, PPN 880
    assert (sale.subtotal, sale.tax_dpp, sale.tax_ppn, sale.total) == (8_000, 7_333, 880, 8_880)


def test_inclusive_ppn_keeps_the_shelf_total(till):
    turn_on(TaxSettings(enabled=True, prices_include_tax=True))
    sale = till.add("SKU0001", "SKU0006")
    assert sale.total == 7_500
    assert (sale.tax_dpp, sale.tax_ppn) == (6_194, 743)


def test_an_exempt_product_carries_no_ppn(till):
    turn_on(TaxSettings(enabled=True, prices_include_tax=False))
    db.session.scalar(db.select(Product).where(Product.sku == "SKU0001")).tax_exempt = True
    sale = till.add("SKU0001")
    assert (sale.tax_ppn, sale.total) == (0, 3_500)


def test_service_and_pbjt_for_a_cafe(till):
    turn_on(TaxSettings(enabled=True, ppn_bp=0, pbjt_bp=1_000, service_bp=500, prices_include_tax=False))
    sale = till.add("SKU0006")  # 4.000 + service 200, PBJT 420
    assert (sale.service_charge, sale.tax_pbjt, sale.total) == (200, 420, 4_620)


def test_the_sale_keeps_the_rule_it_was_sold_under(till):
    rule = TaxSettings(enabled=True, prices_include_tax=False)
    turn_on(rule)
    sale = till.add("SKU0006")
    turn_on(TaxSettings(enabled=True, ppn_bp=1_100, prices_include_tax=False))
    assert TaxSettings.from_text(sale.tax_rule) == rule


def test_cash_pays_the_total_with_tax(till):
    turn_on(TaxSettings(enabled=True, prices_include_tax=False))
    sale = till.add("SKU0006")
    paid = tenders.pay_cash(sale.id, "5000")
    assert (paid.status, paid.total, paid.change) == ("PAID", 4_440, 560)
    assert db.session.get(Sale, sale.id).tax_ppn == 440


def test_a_sale_discount_lowers_the_tax_base(till):
    turn_on(TaxSettings(enabled=True, prices_include_tax=False))
    sale = till.add("SKU0006", "SKU0006")
    sales.set_sale_discount(sale, "2.000")
    assert (sale.tax_dpp, sale.tax_ppn, sale.total) == (5_500, 660, 6_660)
