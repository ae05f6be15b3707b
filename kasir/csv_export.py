"""Streamed CSV downloads: one line at a time, so a long history never sits in memory."""
import csv
import io
from collections.abc import Iterable, Iterator

# Spreadsheet apps read a UTF-8 file correctly (names like "Kopi Süsu") only when it starts with a BOM.
BOM = "\ufeff"


def csv_lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, as CSV text with a BOM at the start."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        writer.writerow(values)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for row in rows:
        yield line(row)
