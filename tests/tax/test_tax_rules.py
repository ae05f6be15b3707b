"""Tax rules: kasir/tax.py arithmetic (docs/tax.md), pure, no app or database."""
from fractions import Fraction

import pytest

from kasir.tax import SaleTax, TaxItem, TaxRuleError, TaxSettings, cash_round, compute_tax, round_half_up

PPN = TaxSettings(enabled=True, prices_include_tax=False)
PPN_INCL = TaxSettings(enabled=True, prices_include_tax=True)


def test_tax_is_off_by_default_and_the_total_is_the_subtotal():
    result = compute_tax([TaxItem(15_000), TaxItem(2_500)], TaxSettings())
    assert result == SaleTax(17_500, 0, 0, 0, 0, 0, 17_500, 0, 0)


def test_exclusive_ppn_is_12_percent_of_a_dpp_of_eleven_twelfths():
    result = compute_tax([TaxItem(120_000)], PPN)
    assert (result.dpp, result.ppn, result.total) == (110_000, 13_200, 133_200)


def test_inclusive_prices_total_is_the_shelf_price_exactly():
    result = compute_tax([TaxItem(111_000)], PPN_INCL)
    assert (result.dpp, result.ppn, result.total) == (91_667, 11_000, 111_000)


@pytest.mark.parametrize("price", [1, 2, 7, 99, 999, 1_001, 33_333, 1_234_567])
def test_inclusive_totals_never_drift_from_the_shelf_price(price):
    result = compute_tax([TaxItem(price), TaxItem(price), TaxItem(1)], PPN_INCL)
    assert result.total == 2 * price + 1
    assert result.taxable + result.ppn == 2 * price + 1


def test_a_one_rupiah_item_rounds_half_up_once_on_the_sum():
    one = compute_tax([TaxItem(1)], PPN)
    assert (one.dpp, one.ppn, one.total) == (1, 0, 1)
    five = compute_tax([TaxItem(1)] * 5, PPN)
    assert (five.dpp, five.ppn, five.total) == (5, 1, 6)


def test_round_half_up_rounds_halves_up_and_below_half_down():
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(249, 100)) == 2


def test_exempt_products_are_left_out_of_dpp_and_ppn():
    result = compute_tax([TaxItem(12_000), TaxItem(50_000, exempt=True)], PPN)
    assert (result.dpp, result.ppn, result.exempt, result.total) == (11_000, 1_320, 50_000, 63_320)


def test_an_all_exempt_sale_has_no_tax():
    result = compute_tax([TaxItem(9_999, exempt=True)], PPN_INCL)
    assert (result.dpp, result.ppn, result.total) == (0, 0, 9_999)


def test_taxed_service_charge_is_added_and_taxed():
    rule = TaxSettings(enabled=True, prices_include_tax=False, service_bp=500)
    result = compute_tax([TaxItem(120_000)], rule)
    assert (result.service, result.dpp, result.ppn, result.total) == (6_000, 115_500, 13_860, 139_860)


def test_untaxed_service_charge_is_added_but_not_taxed():
    rule = TaxSettings(enabled=True, prices_include_tax=False, service_bp=500, service_taxed=False)
    result = compute_tax([TaxItem(120_000)], rule)
    assert (result.service, result.dpp, result.ppn, result.total) == (6_000, 110_000, 13_200, 139_200)


def test_service_charge_is_on_the_whole_bill_including_exempt_items():
    rule = TaxSettings(enabled=True, ppn_bp=0, service_bp=1_000)
    result = compute_tax([TaxItem(10_000), TaxItem(5_005, exempt=True)], rule)
    assert (result.service, result.total) == (1_501, 16_506)


def test_pbjt_restaurant_tax_without_ppn():
    rule = TaxSettings(enabled=True, ppn_bp=0, pbjt_bp=1_000, prices_include_tax=False)
    result = compute_tax([TaxItem(45_000)], rule)
    assert (result.dpp, result.ppn, result.pbjt, result.total) == (0, 0, 4_500, 49_500)


def test_inclusive_pbjt_is_carved_out_of_the_shelf_price():
    rule = TaxSettings(enabled=True, ppn_bp=0, pbjt_bp=1_000, prices_include_tax=True)
    result = compute_tax([TaxItem(55_000)], rule)
    assert (result.pbjt, result.taxable, result.total) == (5_000, 50_000, 55_000)


def test_luxury_goods_use_a_full_dpp():
    rule = TaxSettings(enabled=True, dpp_num=1, dpp_den=1, prices_include_tax=False)
    result = compute_tax([TaxItem(100_000)], rule)
    assert (result.dpp, result.ppn) == (100_000, 12_000)


def test_lines_label_each_figure_in_bahasa_indonesia():
    rule = TaxSettings(enabled=True, service_bp=500, pbjt_bp=1_000, prices_include_tax=False)
    labels = [label for label, _ in compute_tax([TaxItem(10_000)], rule).lines()]
    assert labels == ["Subtotal", "Biaya layanan", "DPP", "PPN", "PBJT", "Total"]


def test_the_rule_text_reads_back_to_the_same_rule():
    rule = TaxSettings(enabled=True, ppn_bp=1_100, service_bp=750, service_taxed=False, cash_rounding=500)
    assert TaxSettings.from_text(rule.to_text()) == rule


def test_a_sale_without_rule_text_reads_as_tax_off():
    assert TaxSettings.from_text(None) == TaxSettings()
    assert TaxSettings.from_text("") == TaxSettings()


@pytest.mark.parametrize("text", ["{", '{"v":9}', '{"v":1,"bogus":1}', '{"v":1,"ppn_bp":-1}'])
def test_a_damaged_rule_text_is_refused(text):
    with pytest.raises(TaxRuleError):
        TaxSettings.from_text(text)


@pytest.mark.parametrize("total,step,expected", [
    (12_345, 0, (12_345, 0)),
    (12_349, 100, (12_300, -49)),
    (12_350, 100, (12_300, -50)),
    (12_351, 100, (12_400, 49)),
    (12_250, 500, (12_000, -250)),
    (12_251, 500, (12_500, 249)),
    (12_500, 500, (12_500, 0)),
    (1, 100, (0, -1)),
])
def test_cash_rounding_goes_to_the_nearest_step_ties_to_the_customer(total, step, expected):
    assert cash_round(total, step) == expected


def test_cash_rounding_refuses_other_steps():
    with pytest.raises(TaxRuleError):
        cash_round(1_000, 50)


def test_a_sale_discount_is_shared_pro_rata_between_taxable_and_exempt_items():
    result = compute_tax([TaxItem(60_000), TaxItem(60_000, exempt=True)], PPN, discount=12_000)
    assert (result.exempt, result.dpp, result.ppn, result.total) == (54_000, 49_500, 5_940, 113_940)


def test_an_inclusive_discounted_total_is_the_shelf_total_less_the_discount():
    result = compute_tax([TaxItem(33_333), TaxItem(4_444, exempt=True)], PPN_INCL, discount=777)
    assert result.total == 33_333 + 4_444 - 777
