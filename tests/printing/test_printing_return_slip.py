"""The "RETUR" slip (kasir.printing.layout.build_return_slip) on python-escpos's Dummy printer, 58 and 80 mm."""
from pathlib import Path

import pytest
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from kasir import returns, tenders
from kasir.clock import format_wib
from kasir.extensions import db
from kasir.models import User
from kasir.payments import charges, service, states
from kasir.printing.escpos_render import render
from kasir.printing.layout import COLUMNS, build_return_slip, two_columns
from kasir.settings import set_setting, shop_profile
from support.config import CASHIER
from support.databases import fresh
from support.payments import gateway_pays

CUT = b"\x1dV"  # ESC/POS cut
DRAWER_PULSE = b"\x1bp"
MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")


class TextDummy(Dummy):
    """A Dummy printer that also keeps each printed line (to read it, and to draw it for the screenshot)."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def textln(self, txt=""):
        self.lines.append(txt)
        super().textln(txt)


def user(role=None, username=None):
    query = db.select(User).where(User.role == role) if role else db.select(User).where(User.username == username)
    return db.session.scalar(query)


def split_sale_return(till):
    """Indomie + Aqua (7.500): 5.000 by QRIS, 2.500 cash; both returned: 5.000 back to QRIS, 2.500 in cash."""
    set_setting("shop_name", "Toko Sembako Ibu Sri")
    set_setting("shop_address", "Jl. Pejaten Raya 12, Jakarta Selatan")
    sale = till.add("SKU0001", "SKU0006")
    payment = charges.create_for_sale(sale.id, 5000)
    gateway_pays(payment)
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)
    sale = tenders.pay_cash(sale.id, "2.500")
    back = returns.create_return(sale.id, {item.id: 1 for item in sale.items}, returns.METHOD_QRIS,
                                 user(username=CASHIER[0]), user(role="admin"))
    return fresh(type(back), back.id)


def printed(sale_return, width_mm):
    printer = TextDummy()
    render(printer, build_return_slip(sale_return, shop_profile(), width_mm))
    return printer


@pytest.mark.parametrize("width_mm", [58, 80])
def test_the_slip_names_the_receipt_the_lines_the_money_and_the_people(till, width_mm):
    back = split_sale_return(till)
    printer = printed(back, width_mm)
    columns = COLUMNS[width_mm]
    text = "\n".join(printer.lines)
    assert "Toko Sembako Ibu Sri" in text and "RETUR" in text
    assert two_columns("Struk asal", back.sale.display_number, columns) in printer.lines
    assert two_columns("Tanggal", format_wib(back.created_at) + " WIB", columns) in printer.lines
    assert "Indomie Goreng" in text and two_columns("  1 x 4.000", "4.000", columns) in printer.lines
    assert two_columns("TOTAL RETUR", "Rp 7.500", columns) in printer.lines
    assert two_columns("Dikembalikan ke QRIS", "5.000", columns) in printer.lines
    assert two_columns("Dikembalikan tunai", "2.500", columns) in printer.lines
    assert back.cashier.display_name in text and back.approver.display_name in text
    assert max(len(line) for line in printer.lines) <= columns
    assert printer.output.index(b"RETUR") < printer.output.index(CUT)


def test_a_cash_return_slip_says_cash_only(till):
    sale = tenders.pay_cash(till.add("SKU0006").id, "10.000")
    back = returns.create_return(sale.id, {sale.items[0].id: 1}, returns.METHOD_CASH, user(username=CASHIER[0]),
                                 user(role="admin"))
    printer = printed(fresh(type(back), back.id), 58)
    lines = printer.lines
    assert two_columns("Dikembalikan tunai", "4.000", 32) in lines and DRAWER_PULSE not in printer.output
    assert not any("QRIS" in line for line in lines)


def test_the_slips_screenshot(till, screenshots):
    """Draws the 58 and 80 mm slips as the printer lays them out (centred, large) for the report's screenshot."""
    back = split_sale_return(till)
    slips = [build_return_slip(back, shop_profile(), width) for width in (58, 80)]
    fonts = {size: ImageFont.truetype(str(MONO), size) if MONO.exists() else ImageFont.load_default()
             for size in (16, 22)}
    width = sum(slip.columns * 10 + 20 for slip in slips) + 20 + 40 * len(slips)
    height = max(len(slip.lines) for slip in slips) * 24 + 40
    image = Image.new("RGB", (width, height), "#e5e7eb")
    draw = ImageDraw.Draw(image)
    left = 20
    for slip in slips:
        paper = slip.columns * 10 + 20
        draw.rectangle([left, 10, left + paper, 20 + len(slip.lines) * 24], fill="white")
        for row, line in enumerate(slip.lines):
            font = fonts[22 if line.large else 16]
            shown = (line.text.center(slip.columns // (2 if line.large else 1)) if line.align == "center"
                     else line.text)
            draw.text((left + 10, 20 + row * 24), shown, fill="black", font=font,
                      stroke_width=1 if line.bold else 0, stroke_fill="black")
        left += paper + 40
    target = screenshots / "refund-slip.png"
    image.save(target)
    assert target.stat().st_size > 0
