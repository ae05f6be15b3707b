"""Receipt lines (layout.py) as ESC/POS commands on a python-escpos printer."""
import textwrap
import unicodedata

from .layout import Receipt

# Code table 0, which every ESC/POS printer has. Text is folded into it one character for one,
# so the fixed-width columns of the layout stay aligned on paper.
CODEPAGE = "CP437"
PYTHON_CODEC = "cp437"
UNPRINTABLE = "?"
ASCII_LOOKALIKES = str.maketrans({
    "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "‐": "-", "−": "-",
    "…": ".", "×": "x", "•": "*", "·": ".", "€": "E", "\u00a0": " ", "\u202f": " ", "\t": " ",
})
DRAWER_PIN = 2


def _printable_char(char: str) -> str:
    try:
        char.encode(PYTHON_CODEC)
        return char
    except UnicodeEncodeError:
        base = unicodedata.normalize("NFKD", char)[:1]
        return base if base.isascii() and base.isprintable() else UNPRINTABLE


def printable(text: str) -> str:
    """The text as the printer's code page can print it: lookalikes for typography, accents dropped, else "?"."""
    return "".join(_printable_char(char) for char in text.translate(ASCII_LOOKALIKES) if char.isprintable())


def render(printer, receipt: Receipt, *, open_drawer: bool = False) -> None:
    """Initialize, print every line with its style inside the paper's columns, cut, and kick the drawer if asked."""
    printer.hw("INIT")
    printer.charcode(CODEPAGE)
    for line in receipt.lines:
        text = printable(line.text)
        # Double width halves the columns: a large line that would not fit is only made taller.
        double_width = line.large and len(text) <= receipt.columns // 2
        columns = receipt.columns // 2 if double_width else receipt.columns
        printer.set(align=line.align, bold=line.bold, normal_textsize=not line.large,
                    double_height=line.large, double_width=double_width)
        for part in textwrap.wrap(text, columns, drop_whitespace=False) or [""]:
            printer.textln(part)
    printer.set(align="left", bold=False, normal_textsize=True)
    printer.cut()
    if open_drawer:
        printer.cashdraw(DRAWER_PIN)


def render_bytes(receipt: Receipt, *, open_drawer: bool = False) -> bytes:
    """The whole job as bytes, so it reaches the printer in one write."""
    from escpos.printer import Dummy  # python-escpos loads only when a receipt is printed (see backends)

    buffer = Dummy()
    render(buffer, receipt, open_drawer=open_drawer)
    return buffer.output
