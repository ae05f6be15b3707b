"""Shelf/price labels: on the receipt printer (ESC/POS barcodes) and as SVG barcodes for an A4 label sheet.

A product's barcode is printed as EAN-13 when it is a valid EAN-13 (13 digits, right check digit), else as
Code128 (its barcode, or its SKU when it has none), which any scanner at the till reads back.
"""
import io
import re
from dataclasses import dataclass

from ..models import Product
from ..money import format_rupiah
from .escpos_render import CODEPAGE, printable

EAN13 = "EAN13"
CODE128 = "CODE128"
SVG_OPTIONS = {"module_height": 12.0, "module_width": 0.3, "font_size": 8, "text_distance": 4.0,
               "quiet_zone": 2.0}


@dataclass(frozen=True)
class Label:
    name: str
    price: str
    code: str
    symbology: str


def is_ean13(code: str) -> bool:
    """13 digits whose last is the EAN check digit of the first 12."""
    if len(code) != 13 or not code.isascii() or not code.isdigit():
        return False
    digits = [int(char) for char in code]
    weighted = sum(digit * (3 if index % 2 else 1) for index, digit in enumerate(digits[:12]))
    return (10 - weighted % 10) % 10 == digits[12]


def label_for(product: Product) -> Label:
    code = product.barcode or product.sku
    return Label(product.name, format_rupiah(product.price), code, EAN13 if is_ean13(code) else CODE128)


def render(printer, labels: list[Label]) -> None:
    """Each label: name, price, barcode, then a cut, on a python-escpos printer."""
    printer.hw("INIT")
    printer.charcode(CODEPAGE)
    for label in labels:
        printer.set(align="center", bold=True)
        printer.textln(printable(label.name)[:48])
        printer.set(align="center", bold=True, double_height=True, double_width=True, normal_textsize=False)
        printer.textln(printable(label.price))
        printer.set(align="center", bold=False, normal_textsize=True)
        if label.symbology == EAN13:
            printer.barcode(label.code, EAN13, function_type="B")
        else:  # function B of Code128 needs its code set named: {B takes letters, digits and punctuation
            printer.barcode("{B" + printable(label.code), CODE128, function_type="B")
        printer.cut()


def render_bytes(labels: list[Label]) -> bytes:
    """The whole label job as bytes, so it reaches the printer in one write."""
    from escpos.printer import Dummy  # python-escpos loads only when printing (see backends)

    buffer = Dummy()
    render(buffer, labels)
    return buffer.output


def barcode_svg(label: Label) -> str:
    """The label's barcode as an inline <svg> element (python-barcode's SVG writer)."""
    import barcode  # loads only for a label sheet, as python-escpos does for printing
    from barcode.writer import SVGWriter

    symbol = barcode.get("ean13" if label.symbology == EAN13 else "code128", label.code, writer=SVGWriter())
    output = io.BytesIO()
    symbol.write(output, options=SVG_OPTIONS)
    text = output.getvalue().decode("utf-8")
    # The page's CSP refuses style attributes, which would leave every rect black: presentation attributes.
    return STYLE_ATTRIBUTE.sub(_presentation_attributes, text[text.index("<svg"):])


STYLE_ATTRIBUTE = re.compile(r'style="([^"]*)"')


def _presentation_attributes(match: re.Match) -> str:
    pairs = (part.split(":", 1) for part in match.group(1).split(";") if ":" in part)
    return " ".join(f'{name.strip()}="{value.strip()}"' for name, value in pairs)
