"""Streamed CSV downloads: one line at a time, so a long history never sits in memory.

Every export goes through `csv_lines`, which also neutralises formulas: a spreadsheet runs a cell that begins
with = + - @ (or a tab or carriage return before one) as a formula, and text in our exports comes from
people (product names, a failed login's username in the audit log, API order ids). Such a text cell gets a
leading single quote, which spreadsheets read as "this is text"; numbers stay numbers.
"""
import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

# Spreadsheet apps read a UTF-8 file correctly (names like "Kopi Süsu") only when it starts with a BOM.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def neutralise(value):
    """A cell as written: numbers unchanged, text that a spreadsheet would run as a formula quoted."""
    if isinstance(value, (int, float, Decimal)):
        return value
    text = "" if value is None else str(value)
    return TEXT_MARK + text if text.startswith(FORMULA_STARTS) else text


def restore(text: str) -> str:
    """A cell read back from one of our exports (the product import): the quote `neutralise` added removed."""
    return text[1:] if text.startswith(TEXT_MARK) and text[1:].startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, as CSV text with a BOM at the start."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        writer.writerow([neutralise(value) for value in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for row in rows:
        yield line(row)
