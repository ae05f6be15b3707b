"""The receipt with tax on: Subtotal, service, DPP, PPN and PBJT lines at 58 and 80 mm (escpos Dummy)."""
import pytest
from escpos.printer import Dummy

from kasir import tenders
from kasir.extensions import db
from kasir.printing.escpos_render import render
from kasir.printing.layout import build_receipt, two_columns
from kasir.settings import set_tax_settings, shop_profile
from kasir.tax import TaxSettings


def paid_sale(till, rule: TaxSettings):
    set_tax_settings(rule)
    db.session.commit()
    sale = till.add("SKU0001", "SKU0006")  # 3.500 + 4.000
    return tenders.pay_cash(sale.id, "20.000")


def receipt_text(sale, width_mm: int) -> str:
    return "\n".join(line.text for line in build_receipt(sale, shop_profile(), width_mm).lines)


@pytest.mark.parametrize("width_mm,columns", [(58, 32), (80, 48)])
def test_an_exclusive_receipt_prints_dpp_ppn_and_the_total_with_tax(till, width_mm, columns):
    sale = paid_sale(till, TaxSettings(enabled=True, prices_include_tax=False))  # DPP 6.875, PPN 825
    printer = Dummy()
    render(printer, build_receipt(sale, shop_profile(), width_mm), open_drawer=False)
    for label, amount in (("Subtotal", "7.500"), ("DPP", "6.875"), ("PPN 12%", "825"), ("TOTAL", "Rp 8.325")):
        assert two_columns(label, amount, columns).encode() in printer.output
    text = receipt_text(sale, width_mm)
    assert max(len(line) for line in text.splitlines()) <= columns


def test_an_inclusive_receipt_says_the_ppn_is_included_and_keeps_the_shelf_total(till):
    sale = paid_sale(till, TaxSettings(enabled=True))
    text = receipt_text(sale, 58)
    assert two_columns("PPN 12% (termasuk)", "743", 32) in text
    assert two_columns("TOTAL", "Rp 7.500", 32) in text


def test_a_cafe_receipt_prints_service_and_pbjt(till):
    sale = paid_sale(till, TaxSettings(enabled=True, ppn_bp=0, pbjt_bp=1_000, service_bp=500,
                                       prices_include_tax=False))  # service 375, PBJT 788
    text = receipt_text(sale, 80)
    assert two_columns("Biaya layanan 5%", "375", 48) in text
    assert two_columns("PBJT 10%", "788", 48) in text and "DPP" not in text
    assert two_columns("TOTAL", "Rp 8.663", 48) in text


def test_a_receipt_without_tax_prints_no_tax_lines(till):
    sale = paid_sale(till, TaxSettings())
    text = receipt_text(sale, 58)
    assert "PPN" not in text and "DPP" not in text and "Subtotal" not in text
