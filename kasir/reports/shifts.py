"""Shifts: open with the drawer's opening cash, X report mid-shift, close with the counted cash (Z report).

Selling never needs a shift unless the owner asks for it (REQUIRED_SETTING, "Wajib buka shift" in admin):
then the till takes no payment until its cashier has opened one.

The figures are the money the shift's cashier took at its register while the shift was open, by method,
from the tenders of the sales (kasir.tenders, the money rule of a sale): a split sale counts in each of its
methods. Expected cash = opening cash + the cash tenders (what stays in the drawer: tendered minus change),
also those of a sale still open for the rest of its money. Voided sales gave their money back. Next to them,
the money of that register and time that no sale took (to refund) and the sales left open short ("Kurang").
"""
import logging
import textwrap
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func

from .. import audit
from ..backup import BackupError, create_backup, is_sqlite
from ..clock import format_wib, utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import (
    METHOD_CASH,
    METHOD_DEBIT,
    METHOD_LABELS,
    METHOD_QRIS,
    METHOD_SPLIT,
    SALE_VOID,
    Register,
    Sale,
    SaleReturn,
    Shift,
    Tender,
    User,
)
from ..money import MoneyError, format_number, parse_rupiah
from ..printing.backends import PRINTER_NOT_SET, PrinterError, send
from ..printing.escpos_render import render_bytes
from ..printing.layout import COLUMNS, Line, Receipt, two_columns
from ..printing.settings import printer_settings
from ..settings import get_setting, set_setting
from .daily import Overpayment, ShortSale, overpayments, short_sales

log = logging.getLogger(__name__)

METHODS = (METHOD_CASH, METHOD_DEBIT, METHOD_QRIS)
REQUIRED_SETTING = "shift_required"


class ShiftError(ValueError):
    """A shift action the rules refuse; the message is for the user."""


@dataclass(frozen=True)
class ShiftSummary:
    """The figures of an X report (shift still open) or a Z report (closed)."""
    shift: Shift
    as_of: datetime
    totals: dict[str, tuple[int, int]]  # method -> (sales with a tender of it, rupiah of those tenders)
    sale_count: int  # sales the shift took money for
    split_count: int  # of which paid by several methods ("Campuran")
    void_count: int
    void_total: int
    overpayments: list[Overpayment]  # money of this register and time that no sale took: to refund
    short_sales: list[ShortSale]  # sales of this shift left open with part of their money in
    cash_refunds: int = 0  # cash the shift's cashier gave back for returns (kasir/returns.py)

    @property
    def kind(self) -> str:
        return "X" if self.shift.is_open else "Z"

    @property
    def cash_sales(self) -> int:
        return self.totals[METHOD_CASH][1]

    @property
    def expected_cash(self) -> int:
        return self.shift.opening_cash + self.cash_sales - self.cash_refunds

    @property
    def sales_total(self) -> int:
        return sum(amount for _, amount in self.totals.values())

    @property
    def overpayment_total(self) -> int:
        return sum(over.amount for over in self.overpayments)


def open_shift_for(register: Register) -> Shift | None:
    return db.session.scalar(db.select(Shift).where(Shift.register_id == register.id, Shift.closed_at.is_(None)))


def open_shift(register: Register, cashier: User, opening_cash_text: str) -> Shift:
    try:
        opening_cash = parse_rupiah(opening_cash_text)
    except MoneyError as exc:
        raise ShiftError(f"Kas awal: {exc}") from exc
    with write_transaction():  # check and insert under the write lock: two taps never open two shifts
        if open_shift_for(register) is not None:
            raise ShiftError(f"Kasir {register.code} masih punya shift yang belum ditutup.")
        shift = Shift(register=register, cashier=cashier, opening_cash=opening_cash, opened_at=utcnow())
        db.session.add(shift)
        db.session.flush()
        audit.record("OpenShift", f"shift {shift.id} kasir {register.code} {cashier.username}",
                     detail=f"opening_cash={opening_cash}")
    return shift


def shift_required() -> bool:
    return get_setting(REQUIRED_SETTING) == "1"


def set_shift_required(required: bool) -> None:
    set_setting(REQUIRED_SETTING, "1" if required else "")
    audit.record("SaveConfig", "shifts", detail=f"required={required}")
    db.session.commit()


def ensure_may_sell(register: Register, cashier: User) -> None:
    """When the owner requires shifts, a payment at the till waits for this cashier's open shift."""
    if shift_required() and not counts_sales_of(open_shift_for(register), cashier):
        raise ShiftError("Shift wajib dibuka sebelum menerima pembayaran: tekan “Buka Shift” di atas.")


def counts_sales_of(shift: Shift | None, cashier: User) -> bool:
    """Whether this cashier's sales at the shift's register go into its drawer (see summarize)."""
    return shift is not None and shift.cashier_id == cashier.id


def may_close(shift: Shift, user: User) -> bool:
    """At the till only the shift's own cashier (who counts the drawer) or an admin closes it."""
    return user.id == shift.cashier_id or user.is_admin


def ensure_may_close(shift: Shift, user: User) -> None:
    if not may_close(shift, user):
        raise ShiftError(f"Shift ini milik {shift.cashier.display_name}: hanya dia atau admin yang bisa menutupnya.")


def summarize(shift: Shift) -> ShiftSummary:
    """The shift's figures: the tenders its cashier took at its register while it was open (see the module)."""
    as_of = shift.closed_at or utcnow()
    at_till = (Sale.register_id == shift.register_id, Sale.cashier_id == shift.cashier_id)
    taken = (Tender.created_at >= shift.opened_at, Tender.created_at < as_of, Sale.status != SALE_VOID, *at_till)
    rows = db.session.execute(
        db.select(Tender.method, func.count(Tender.sale_id.distinct()), func.coalesce(func.sum(Tender.amount), 0))
        .join(Sale, Tender.sale_id == Sale.id).where(*taken).group_by(Tender.method)).all()
    found = {method: (count, int(amount)) for method, count, amount in rows}
    sale_count, split_count = db.session.execute(
        db.select(func.count(Sale.id), func.count(case((Sale.method == METHOD_SPLIT, 1))))
        .where(Sale.id.in_(db.select(Tender.sale_id).join(Sale, Tender.sale_id == Sale.id).where(*taken)))).one()
    voids = db.session.execute(db.select(func.count(Sale.id), func.coalesce(func.sum(Sale.total), 0))
                               .where(Sale.status == SALE_VOID, Sale.paid_at >= shift.opened_at, Sale.paid_at < as_of,
                                      *at_till)).one()
    cash_refunds = db.session.scalar(
        db.select(func.coalesce(func.sum(SaleReturn.amount - SaleReturn.qris_amount), 0)).where(
            SaleReturn.cashier_id == shift.cashier_id,  # a QRIS return's cash part only (returns' split rule)
            SaleReturn.created_at >= shift.opened_at, SaleReturn.created_at < as_of))
    return ShiftSummary(shift=shift, as_of=as_of, totals={method: found.get(method, (0, 0)) for method in METHODS},
                        sale_count=sale_count, split_count=split_count, void_count=voids[0],
                        void_total=int(voids[1]),
                        overpayments=overpayments(shift.opened_at, as_of, shift.register_id),
                        short_sales=short_sales(shift.opened_at, as_of, shift.register_id),
                        cash_refunds=int(cash_refunds))


def close_shift(shift: Shift, counted_cash_text: str, note: str = "") -> ShiftSummary:
    """Close with the counted cash; the Z report's figures are fixed from now on. A backup follows, best effort."""
    if not shift.is_open:
        raise ShiftError("Shift ini sudah ditutup.")
    try:
        counted_cash = parse_rupiah(counted_cash_text)
    except MoneyError as exc:
        raise ShiftError(f"Kas dihitung: {exc}") from exc
    shift.closed_at = utcnow()
    summary = summarize(shift)
    shift.counted_cash = counted_cash
    shift.expected_cash = summary.expected_cash
    shift.note = " ".join(note.split())[:200] or None
    audit.record("CloseShift", f"shift {shift.id} kasir {shift.register.code} {shift.cashier.username}",
                 detail=f"expected={shift.expected_cash} counted={counted_cash} difference={shift.difference}")
    db.session.commit()
    if not is_sqlite():
        return summary  # PostgreSQL is backed up with pg_dump, outside Kasir
    try:
        create_backup("tutup-shift")  # the file name is shown to the admin: Indonesian
    except (BackupError, OSError):  # the drawer is counted and saved; a missing backup must not undo that
        log.exception("backup after closing shift %s failed", shift.id)
    return summary


def build_shift_receipt(summary: ShiftSummary, shop: dict[str, str], width_mm: int = 58) -> Receipt:
    """The X or Z report as a receipt for the thermal printer and the on-screen preview."""
    columns = COLUMNS.get(width_mm, COLUMNS[58])
    shift = summary.shift

    def row(label: str, amount: int, *, bold: bool = False) -> Line:
        return Line(two_columns(label, format_number(amount), columns), bold=bold)

    title = "LAPORAN X (SEMENTARA)" if summary.kind == "X" else "LAPORAN Z (TUTUP SHIFT)"
    lines = [Line(part, bold=True, align="center") for part in textwrap.wrap(shop["shop_name"], columns)]
    lines += [Line(title, bold=True, align="center"), Line("-" * columns),
              Line(two_columns("Kasir", f"{shift.register.code} / {shift.cashier.display_name}", columns)),
              Line(two_columns("Buka", format_wib(shift.opened_at), columns)),
              Line(two_columns("Tutup" if summary.kind == "Z" else "Per", format_wib(summary.as_of), columns)),
              Line("-" * columns)]
    for method in METHODS:
        count, amount = summary.totals[method]
        lines.append(row(f"{METHOD_LABELS[method]} ({count})", amount))
    lines.append(row(f"Total ({summary.sale_count})", summary.sales_total, bold=True))
    if summary.split_count:
        lines.append(Line(f"Campuran: {summary.split_count} transaksi"))
    if summary.void_count:
        lines.append(row(f"Dibatalkan ({summary.void_count})", summary.void_total))
    if summary.overpayments:
        lines.append(row(f"Kelebihan bayar ({len(summary.overpayments)})", summary.overpayment_total, bold=True))
        lines += [row(f" {over.reason} {over.payment.sale.display_number}", over.amount)
                  for over in summary.overpayments]
    if summary.short_sales:
        lines.append(Line(f"Belum lunas ({len(summary.short_sales)})", bold=True))
        lines += [row(f" {short.sale.display_number} kurang", short.due) for short in summary.short_sales]
    lines += [Line("-" * columns), row("Kas awal", shift.opening_cash), row("Penjualan tunai", summary.cash_sales),
              *([row("Retur tunai", -summary.cash_refunds)] if summary.cash_refunds else []),
              row("Kas seharusnya", summary.expected_cash, bold=True)]
    if summary.kind == "Z":
        lines += [row("Kas dihitung", shift.counted_cash), row("Selisih", shift.difference, bold=True)]
    return Receipt(width_mm=width_mm, columns=columns, lines=lines)


def print_shift_report(summary: ShiftSummary, shop: dict[str, str]) -> None:
    """Print the X/Z report now, outside the sales print queue; raises PrinterError with the reason."""
    settings = printer_settings()
    if not settings.enabled:
        raise PrinterError(PRINTER_NOT_SET)
    send(settings.url, render_bytes(build_shift_receipt(summary, shop, settings.width_mm)))
