"""Reconciliation (shared/contracts/settlement.md): a gateway's settlement rows against Kasir's payments.

Rows come from a CSV export (generic, Midtrans or Xendit columns, mapped by header name in COLUMNS) or
from the provider's fetch_settlement(). Each row is matched by provider_trx_id, else by order_id, stored
in `settlements`, and the report lists what needs a person: money Kasir does not know about, payments the
gateway did not settle, amounts that differ, late settlements and double payments for one sale.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ..clock import WIB, format_wib
from ..extensions import db
from ..money import format_rupiah
from ..payments import states
from ..payments.gateway_settings import active_provider_name
from ..payments.models import Payment
from ..payments.providers import get_provider
from ..payments.providers.base import SettlementRow
from ..settings import get_setting, set_setting
from ..api.models import Settlement

# Header names (lowercase, single spaces) of each field in the exports we know; the first found wins.
COLUMNS = {
    "provider_trx_id": ("provider_trx_id", "transaction id", "transaction_id", "qr id"),
    "order_id": ("order_id", "order id", "reference", "reference_id", "external id"),
    "amount": ("amount", "gross amount"),
    "fee": ("fee", "mdr", "fee amount"),
    "net_amount": ("net_amount", "net amount"),
    "settlement_date": ("settlement_date", "settlement date", "settlement time", "transaction time"),
    "status": ("status", "transaction status"),
}
AMOUNT = re.compile(r"(\d+)(?:\.0+)?")
SETTLED_WORDS = frozenset({"settlement", "settled", "success", "succeeded", "completed", "paid", "capture"})
LAST_RUN_SETTING = "reconciled_through"

MATCHED = "matched"
MISSING_IN_KASIR = "missing_in_kasir"
AMOUNT_MISMATCH = "amount_mismatch"
LATE = "late"
DOUBLE = "double_settlement"
NOT_A_SETTLEMENT = "not_a_settlement"


class SettlementFileError(ValueError):
    pass


@dataclass
class Report:
    day: date
    source: str
    rows: int = 0
    matched: list[Settlement] = field(default_factory=list)
    missing_in_kasir: list[Settlement] = field(default_factory=list)
    amount_mismatch: list[Settlement] = field(default_factory=list)
    late: list[Settlement] = field(default_factory=list)
    double_settlement: list[Settlement] = field(default_factory=list)
    missing_at_gateway: list[Payment] = field(default_factory=list)
    double_payment: list[Payment] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing_in_kasir or self.amount_mismatch or self.late or self.double_settlement
                    or self.missing_at_gateway or self.double_payment)


def _normal(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().lower().split())


def _amount(text: str, line: int, name: str) -> int:
    match = AMOUNT.fullmatch(text.strip().replace(",", ""))
    if not match:
        raise SettlementFileError(f"line {line}: {name} '{text}' is not a whole rupiah amount")
    return int(match.group(1))


def _date(text: str, line: int) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise SettlementFileError(f"line {line}: settlement date '{text}' is not YYYY-MM-DD") from None


def parse_csv(text: str) -> list[SettlementRow]:
    """Rows of a settlement CSV whose columns are found by header name (COLUMNS)."""
    reader = csv.reader(io.StringIO(text))
    try:
        headers = [_normal(name) for name in next(reader)]
    except StopIteration:
        raise SettlementFileError("the file is empty") from None
    where = {name: next((headers.index(alias) for alias in aliases if alias in headers), None)
             for name, aliases in COLUMNS.items()}
    if where["amount"] is None or (where["provider_trx_id"] is None and where["order_id"] is None):
        raise SettlementFileError("the file needs an amount column and a transaction id or order id column")
    rows = []
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str) -> str:
            index = where[name]
            return cells[index].strip() if index is not None and index < len(cells) else ""

        amount = _amount(cell("amount"), line, "amount")
        fee = _amount(cell("fee"), line, "fee") if cell("fee") else 0
        net = _amount(cell("net_amount"), line, "net amount") if cell("net_amount") else amount - fee
        rows.append(SettlementRow(provider_trx_id=cell("provider_trx_id") or None, order_id=cell("order_id") or None,
                                  amount=amount, fee=fee, net_amount=net,
                                  settlement_date=_date(cell("settlement_date"), line) if cell("settlement_date") else None,
                                  status=cell("status").lower() or "settlement"))
    return rows


def _find_payment(row: SettlementRow) -> Payment | None:
    if row.provider_trx_id:
        payment = db.session.scalar(db.select(Payment).where(Payment.provider_trx_id == row.provider_trx_id))
        if payment is not None:
            return payment
    if row.order_id:
        return db.session.scalar(db.select(Payment).where(Payment.order_id == row.order_id))
    return None


def paid_on(day: date) -> list[Payment]:
    """Payments Kasir holds as paid on a business day (WIB)."""
    start = datetime.combine(day, time.min, tzinfo=WIB)
    return db.session.scalars(db.select(Payment).where(
        Payment.status.in_([states.PAID, states.REFUNDED]), Payment.paid_at >= start,
        Payment.paid_at < start + timedelta(days=1)).order_by(Payment.paid_at)).all()


def _outcome(row: SettlementRow, payment: Payment | None, seen: set[str]) -> str:
    if row.status not in SETTLED_WORDS:
        return NOT_A_SETTLEMENT
    if payment is None or payment.status not in (states.PAID, states.REFUNDED):
        return MISSING_IN_KASIR
    if payment.id in seen:
        return DOUBLE
    seen.add(payment.id)
    if row.amount != payment.amount:
        return AMOUNT_MISMATCH
    return LATE if payment.late else MATCHED


def reconcile(day: date, rows: list[SettlementRow], source: str) -> Report:
    """Store the rows (replacing an earlier import of the same source) and build the report."""
    provider = active_provider_name()
    db.session.execute(db.delete(Settlement).where(Settlement.file == source))
    report = Report(day=day, source=source, rows=len(rows))
    seen: set[str] = set()
    for row in rows:
        payment = _find_payment(row)
        outcome = _outcome(row, payment, seen)
        settlement = Settlement(provider=provider, provider_trx_id=row.provider_trx_id, order_id=row.order_id,
                                payment_id=payment.id if payment else None, amount=row.amount, fee=row.fee,
                                net_amount=row.net_amount, settlement_date=row.settlement_date or day,
                                status=row.status[:30], file=source[:200], outcome=outcome,
                                reconciled=outcome in (MATCHED, LATE))
        settlement.payment = payment
        db.session.add(settlement)
        if outcome != NOT_A_SETTLEMENT:
            getattr(report, outcome).append(settlement)
    paid = paid_on(day)
    report.missing_at_gateway = [payment for payment in paid if payment.id not in seen]
    sales_paid: dict[int, list[Payment]] = {}
    for payment in paid:
        if payment.sale_id is not None:
            sales_paid.setdefault(payment.sale_id, []).append(payment)
    report.double_payment = [payment for group in sales_paid.values() if len(group) > 1 for payment in group]
    db.session.commit()
    return report


def run(day: date, csv_file: Path | None = None) -> Report:
    if csv_file is not None:
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettlementFileError(f"cannot read {csv_file.name}: {exc}") from None
        return reconcile(day, parse_csv(text), csv_file.name)
    provider = get_provider()
    return reconcile(day, provider.fetch_settlement(day), f"{provider.name}:{day.isoformat()}")


def reconcile_yesterday() -> Report | None:
    """The daily job: yesterday's settlement from the provider, once."""
    yesterday = datetime.now(WIB).date() - timedelta(days=1)
    if get_setting(LAST_RUN_SETTING) >= yesterday.isoformat():
        return None
    report = run(yesterday)
    set_setting(LAST_RUN_SETTING, yesterday.isoformat())
    db.session.commit()
    return report


def format_report(report: Report) -> str:
    def settlement_line(row: Settlement) -> str:
        expected = f" (Kasir {format_rupiah(row.payment.amount)})" if row.payment and row.outcome == AMOUNT_MISMATCH else ""
        return f"  {row.order_id or '-'}  trx {row.provider_trx_id or '-'}  {format_rupiah(row.amount)}{expected}"

    def payment_line(payment: Payment) -> str:
        return f"  {payment.order_id}  trx {payment.provider_trx_id or '-'}  {format_rupiah(payment.amount)}  " \
               f"lunas {format_wib(payment.paid_at)}"

    lines = [f"Rekonsiliasi {report.day.isoformat()} ({report.source}): {report.rows} baris, "
             f"{len(report.matched)} cocok."]
    sections = [
        ("Tidak ada di Kasir (dibayar di gateway)", report.missing_in_kasir, settlement_line),
        ("Tidak ada di gateway (lunas di Kasir)", report.missing_at_gateway, payment_line),
        ("Jumlah berbeda", report.amount_mismatch, settlement_line),
        ("Pembayaran terlambat (perlu ditinjau)", report.late, settlement_line),
        ("Settlement ganda", report.double_settlement, settlement_line),
        ("Pembayaran ganda untuk satu transaksi (refund)", report.double_payment, payment_line),
    ]
    for title, items, render in sections:
        if items:
            lines.append(f"{title}: {len(items)}")
            lines.extend(render(item) for item in items)
    if report.clean:
        lines.append("Tidak ada selisih.")
    return "\n".join(lines)
