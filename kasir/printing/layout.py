"""Receipt layout as lines of fixed-width text, shared by the thermal printer and the HTML preview."""
import textwrap
from dataclasses import dataclass
from datetime import datetime

from ..clock import format_wib
from ..models import (
    METHOD_CASH,
    METHOD_DEBIT,
    METHOD_LABELS,
    METHOD_QRIS,
    METHOD_SPLIT,
    SALE_VOID,
    Sale,
    SaleReturn,
    Tender,
)
from ..money import format_number
from ..tax import TaxSettings, format_percent

COLUMNS = {58: 32, 80: 48}


@dataclass(frozen=True)
class Line:
    text: str
    bold: bool = False
    align: str = "left"  # left | center
    large: bool = False


@dataclass(frozen=True)
class Receipt:
    width_mm: int
    columns: int
    lines: list[Line]


def two_columns(left: str, right: str, columns: int) -> str:
    """Left text and right-aligned figure on one line; the left side is cut, never the figure."""
    room = max(columns - len(right) - 1, 0)
    return f"{left[:room]:<{room}} {right}"[-columns:]


def labelled(label: str, value: str, columns: int, *, bold: bool = False) -> list[Line]:
    """A label and its value on one line, or the value right-aligned under its label when both don't fit."""
    if len(label) + len(value) + 1 <= columns:
        return [Line(two_columns(label, value, columns), bold=bold)]
    return [Line(label, bold=bold)] + [Line(part.rjust(columns), bold=bold) for part in textwrap.wrap(value, columns)]


def _rule(columns: int) -> Line:
    return Line("-" * columns)


def _tender_lines(tender: Tender, columns: int, split: bool) -> list[Line]:
    """A tender on the receipt; a split sale's tenders each say how much of the total they paid."""
    lines = [Line(two_columns(tender.method_label, format_number(tender.amount), columns))] if split else []
    if tender.method == METHOD_CASH:
        lines.append(Line(two_columns("  Diterima" if split else "Tunai", format_number(tender.tendered or 0),
                                      columns)))
        lines.append(Line(two_columns("  Kembali" if split else "Kembali", format_number(tender.change or 0), columns),
                          bold=True))
    elif tender.method == METHOD_DEBIT:
        lines += labelled("Ref. EDC", tender.edc_reference or "-", columns)
    elif tender.payment is not None:
        lines += labelled("Ref. QRIS", tender.payment.provider_ref_no or tender.payment.order_id, columns)
    return lines


def _tax_lines(sale: Sale, columns: int) -> list[Line]:
    """Service, DPP, PPN and PBJT as the sale stored them, with the rates of the sale's own rule."""
    if not sale.tax_rule:
        return []
    rule = TaxSettings.from_text(sale.tax_rule)
    included = " (termasuk)" if rule.prices_include_tax else ""
    rows = []
    if sale.service_charge:
        rows.append((f"Biaya layanan {format_percent(rule.service_bp)}%", sale.service_charge))
    if rule.ppn_bp:
        rows += [("DPP", sale.tax_dpp), (f"PPN {format_percent(rule.ppn_bp)}%{included}", sale.tax_ppn)]
    if rule.pbjt_bp:
        rows.append((f"PBJT {format_percent(rule.pbjt_bp)}%{included}", sale.tax_pbjt))
    return [Line(two_columns(label, format_number(amount), columns)) for label, amount in rows]


def build_receipt(sale: Sale, shop: dict[str, str], width_mm: int = 58) -> Receipt:
    columns = COLUMNS.get(width_mm, COLUMNS[58])
    lines = _shop_header(shop, columns)
    lines.append(_rule(columns))
    lines.append(Line(two_columns("No.", sale.display_number, columns)))
    lines.append(Line(two_columns("Tanggal", format_wib(sale.paid_at or sale.created_at, "%d/%m/%Y %H:%M"), columns)))
    lines.append(Line(two_columns("Kasir", sale.cashier.display_name if sale.cashier else "-", columns)))
    lines.append(_rule(columns))
    for item in sale.items:
        lines += [Line(part) for part in textwrap.wrap(item.name, columns)]
        lines.append(Line(two_columns(f"  {item.quantity} x {format_number(item.unit_price)}",
                                      format_number(item.gross), columns)))
        if item.discount:
            label = f"  Diskon {item.discount_percent}%" if item.discount_percent else "  Diskon"
            lines.append(Line(two_columns(label, f"-{format_number(item.discount)}", columns)))
    lines.append(_rule(columns))
    if sale.discount or sale.tax_rule:
        lines.append(Line(two_columns("Subtotal", format_number(sale.subtotal), columns)))
    if sale.discount:
        label = f"Diskon {sale.discount_percent}%" if sale.discount_percent else "Diskon"
        lines.append(Line(two_columns(label, f"-{format_number(sale.discount)}", columns)))
    lines += _tax_lines(sale, columns)
    lines.append(Line(two_columns("TOTAL", f"Rp {format_number(sale.total)}", columns), bold=True))
    if sale.cash_rounding:  # the shop's cash rounding (docs/tax.md): signed, then what the customer paid
        lines.append(Line(two_columns("Pembulatan", format_number(sale.cash_rounding), columns)))
        lines.append(Line(two_columns("Total dibayar", f"Rp {format_number(sale.total + sale.cash_rounding)}",
                                      columns), bold=True))
    method = METHOD_LABELS.get(sale.method or "", sale.method or "-")
    lines.append(Line(two_columns("Bayar", method, columns)))
    split = len(sale.tenders) > 1
    for tender in sale.tenders:  # every tender: what it paid, with its cash, change or reference
        lines += _tender_lines(tender, columns, split)
    if sale.method in (METHOD_QRIS, METHOD_SPLIT):
        lines.append(Line("LUNAS", bold=True, align="center"))
    lines.append(_rule(columns))
    if sale.status == SALE_VOID:
        lines.append(Line("*** DIBATALKAN ***", bold=True, align="center"))
    lines += [Line(part, align="center") for part in textwrap.wrap(shop.get("receipt_footer", ""), columns)]
    return Receipt(width_mm=width_mm, columns=columns, lines=lines)


def _shop_header(shop: dict[str, str], columns: int) -> list[Line]:
    lines = [Line(part, bold=True, align="center", large=True) for part in textwrap.wrap(shop["shop_name"], columns)]
    for extra in (shop.get("shop_address"), shop.get("shop_phone")):
        lines += [Line(part, align="center") for part in textwrap.wrap(extra or "", columns)]
    return lines


def build_return_slip(sale_return: SaleReturn, shop: dict[str, str], width_mm: int = 58) -> Receipt:
    """"RETUR": the slip of one return (kasir/returns.py) for the customer and the drawer: the original receipt
    number, the lines taken back, the amount and how it went back (QRIS and/or cash), who did and approved it."""
    columns = COLUMNS.get(width_mm, COLUMNS[58])
    sale = sale_return.sale
    lines = _shop_header(shop, columns)
    lines += [Line("RETUR", bold=True, align="center", large=True), _rule(columns)]
    lines.append(Line(two_columns("No. retur", f"{sale.display_number}-R{sale_return.number}", columns)))
    lines.append(Line(two_columns("Struk asal", sale.display_number, columns)))
    lines.append(Line(two_columns("Tanggal", format_wib(sale_return.created_at) + " WIB", columns)))
    lines += labelled("Kasir", sale_return.cashier.display_name if sale_return.cashier else "-", columns)
    lines += labelled("Disetujui", sale_return.approver.display_name if sale_return.approver else "-", columns)
    lines.append(_rule(columns))
    for item in sale_return.items:
        lines += [Line(part) for part in textwrap.wrap(item.sale_item.name, columns)]
        lines.append(Line(two_columns(f"  {item.quantity} x {format_number(item.sale_item.unit_price)}",
                                      format_number(item.amount), columns)))
    rest = sale_return.amount - sum(item.amount for item in sale_return.items)
    if rest:  # the sale discount's share and the tax recomputed by the sale's rule
        lines.append(Line(two_columns("Diskon/pajak", format_number(rest), columns)))
    lines.append(_rule(columns))
    lines.append(Line(two_columns("TOTAL RETUR", f"Rp {format_number(sale_return.amount)}", columns), bold=True))
    if sale_return.qris_amount:
        lines.append(Line(two_columns("Dikembalikan ke QRIS", format_number(sale_return.qris_amount), columns)))
        if sale_return.refund_key:
            lines += labelled("  Ref. refund", sale_return.refund_key, columns)
    if sale_return.cash_amount or not sale_return.qris_amount:
        lines.append(Line(two_columns("Dikembalikan tunai", format_number(sale_return.cash_amount), columns)))
    lines.append(_rule(columns))
    lines += [Line(part, align="center") for part in textwrap.wrap("Simpan slip ini sebagai bukti pengembalian.",
                                                                   columns)]
    return Receipt(width_mm=width_mm, columns=columns, lines=lines)


def build_test_page(printer_url: str, width_mm: int, printed_at: datetime) -> Receipt:
    """What `print-test` and admin's "Tes Cetak" print: the settings, a column ruler and Indonesian text."""
    columns = COLUMNS.get(width_mm, COLUMNS[58])
    ruler = ("1234567890" * 5)[:columns]
    lines = [
        Line("TES CETAK", bold=True, align="center", large=True),
        Line("Kasir", align="center"),
        _rule(columns),
        Line(two_columns("Waktu", format_wib(printed_at, "%d/%m/%Y %H:%M"), columns)),
        Line(two_columns("Kertas", f"{width_mm} mm / {columns} kolom", columns)),
        *[Line(part) for part in textwrap.wrap(f"Printer: {printer_url}", columns)],
        _rule(columns),
        Line(ruler),
        Line(two_columns("Contoh harga", f"Rp {format_number(1_234_500)}", columns), bold=True),
        Line("Printer siap dipakai.", align="center"),
    ]
    return Receipt(width_mm=width_mm, columns=columns, lines=lines)


def build_va_slip(payment, shop: dict[str, str], bank_label: str, number: str, width_mm: int = 58) -> Receipt:
    """"Cetak Nomor VA": a slip the customer takes away to transfer later (bank, VA number, amount, expiry in WIB)."""
    columns = COLUMNS.get(width_mm, COLUMNS[58])
    va = (payment.instructions or {}).get("va") or {}
    lines = [
        Line(shop.get("shop_name") or "Kasir", bold=True, align="center"),
        Line("NOMOR VIRTUAL ACCOUNT", bold=True, align="center"),
        _rule(columns),
        Line(two_columns("Bank", bank_label, columns)),
        *([Line(two_columns("Kode perusahaan", va["biller_code"], columns))] if va.get("biller_code") else []),
        Line(number, bold=True, align="center", large=True),
        Line(two_columns("Nominal", f"Rp {format_number(payment.amount)}", columns), bold=True),
        Line(two_columns("Berlaku s.d.", format_wib(payment.expires_at, "%d/%m/%Y %H:%M") + " WIB", columns)),
        Line(two_columns("Order", payment.order_id, columns)),
        _rule(columns),
        *[Line(part, align="center") for part in textwrap.wrap("Transfer tepat sesuai nominal sebelum batas waktu.",
                                                               columns)],
    ]
    return Receipt(width_mm=width_mm, columns=columns, lines=lines)
