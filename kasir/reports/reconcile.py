"""Reconciliation (shared/contracts/settlement.md): a gateway's settlement rows against Kasir's payments.

Rows come from a CSV export (generic, Midtrans or Xendit columns, mapped by header name in COLUMNS) or
from the provider's fetch_settlement(). Each row is matched by provider_trx_id, else by order_id, stored
in `settlements`, and the report lists what needs a person: money Kasir does not know about, payments the
gateway did not settle, amounts that differ, late settlements, and payments whose amount differs from their
sale (the money rule of a sale, kasir.tenders: money the sale did not take, or a sale left short).
"""
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path

from .. import audit, tenders
from ..api.models import Settlement
from ..claims import take_lease
from ..clock import WIB, format_wib, utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import SALE_OPEN
from ..money import format_rupiah
from ..payments import states
from ..payments.gateway_settings import active_provider_name
from ..payments.models import Payment
from ..payments.providers import get_provider
from ..payments.providers.base import SettlementRow
from ..settings import get_setting, set_setting
from .daily import Overpayment

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
# Longer than a settlement download can take; a run that failed is tried again by the next hourly job after it.
RECONCILE_LEASE = timedelta(minutes=30)

MATCHED = "matched"
MISSING_IN_KASIR = "missing_in_kasir"
AMOUNT_MISMATCH = "amount_mismatch"
LATE = "late"
DOUBLE = "double_settlement"
SALE_MISMATCH = "sale_mismatch"  # the gateway paid what Kasir asked, but the sale did not take it all, or is short
NOT_A_SETTLEMENT = "not_a_settlement"
SETTLEMENT_OUTCOMES = (MATCHED, MISSING_IN_KASIR, AMOUNT_MISMATCH, LATE, DOUBLE)
SETTLED_AS_ASKED = (MATCHED, LATE, SALE_MISMATCH)  # the gateway's money is what Kasir's payment says
BATCH_SIZE = 1000
SAMPLE_SIZE = 50


class SettlementFileError(ValueError):
    """A settlement file Kasir cannot read; the message says where and why, in Bahasa Indonesia."""


class ReconciliationError(ValueError):
    """A resolution the rules refuse; the message is for the user."""


@dataclass(frozen=True)
class SaleMismatch:
    """A paid sale payment whose amount differs from what its sale took ("Nominal beda dengan transaksi")."""
    payment: Payment
    unapplied: int  # of the payment's money, what no sale took: to refund
    short: int  # what its sale still lacks

    @property
    def applied(self) -> int:
        return self.payment.amount - self.unapplied

    @property
    def notes(self) -> list[str]:
        """What differs, in words for the owner."""
        notes = []
        if self.unapplied:
            reason = Overpayment(self.payment, self.unapplied).reason
            notes.append(f"Kelebihan {format_rupiah(self.unapplied)} ({reason}), perlu refund")
        if self.short:
            still_open = self.payment.sale.status == SALE_OPEN
            notes.append(f"Transaksi {'belum lunas' if still_open else 'ditutup'} dengan kurang "
                         f"{format_rupiah(self.short)}")
        return notes


def sale_mismatch(payment: Payment) -> SaleMismatch | None:
    """The difference between a paid sale payment and its sale, or None when the sale took exactly it and is
    covered: money the sale did not take (late, double, over), or a sale left open or closed on less."""
    if payment.sale is None:
        return None
    unapplied, short = tenders.unapplied_amount(payment), tenders.due(payment.sale)
    return SaleMismatch(payment, unapplied, short) if unapplied or short else None


@dataclass
class Report:
    """Counts per outcome of every row; the rows themselves only up to SAMPLE_SIZE per outcome."""
    day: date
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    matched: list[Settlement] = field(default_factory=list)
    missing_in_kasir: list[Settlement] = field(default_factory=list)
    amount_mismatch: list[Settlement] = field(default_factory=list)
    late: list[Settlement] = field(default_factory=list)
    double_settlement: list[Settlement] = field(default_factory=list)
    missing_at_gateway: list[Payment] = field(default_factory=list)
    sale_mismatch: list[SaleMismatch] = field(default_factory=list)  # the day's paid payments, file or not

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def count(self, outcome: str) -> int:
        return self.counts.get(outcome, 0)

    @property
    def clean(self) -> bool:
        return not (self.missing_in_kasir or self.amount_mismatch or self.late or self.double_settlement
                    or self.missing_at_gateway or self.sale_mismatch)


def _normal(header: str) -> str:
    return " ".join(header.replace("\ufeff", "").strip().lower().split())


def _amount(text: str, line: int, name: str) -> int:
    match = AMOUNT.fullmatch(text.strip().replace(",", ""))
    if not match:
        raise SettlementFileError(f"baris {line}: kolom {name} berisi '{text}', bukan nominal rupiah bulat")
    return int(match.group(1))


def _date(text: str, line: int) -> date:
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise SettlementFileError(f"baris {line}: tanggal settlement '{text}' harus bertanggal TTTT-BB-HH "
                                  f"(mis. 2026-12-03)") from None


def read_rows(lines: Iterable[str]) -> Iterator[SettlementRow]:
    """Rows of a settlement CSV, one at a time (a file of any length is never held whole in memory).

    Columns are found by header name (COLUMNS).
    """
    reader = csv.reader(lines)
    try:
        headers = [_normal(name) for name in next(reader)]
    except StopIteration:
        raise SettlementFileError("berkasnya kosong") from None
    except csv.Error:
        raise SettlementFileError("baris 1: bukan baris CSV yang bisa dibaca") from None
    try:
        yield from _rows(reader, headers)
    except csv.Error:
        raise SettlementFileError(f"baris {reader.line_num}: bukan baris CSV yang bisa dibaca") from None


def _rows(reader, headers: list[str]) -> Iterator[SettlementRow]:
    where = {name: next((headers.index(alias) for alias in aliases if alias in headers), None)
             for name, aliases in COLUMNS.items()}
    if where["amount"] is None or (where["provider_trx_id"] is None and where["order_id"] is None):
        raise SettlementFileError("kolom tidak dikenali: berkas perlu kolom jumlah (amount atau gross amount) dan "
                                  "kolom ID transaksi (transaction id) atau order ID")
    for line, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str) -> str:
            index = where[name]
            return cells[index].strip() if index is not None and index < len(cells) else ""

        amount = _amount(cell("amount"), line, "jumlah")
        fee = _amount(cell("fee"), line, "biaya") if cell("fee") else 0
        net = _amount(cell("net_amount"), line, "jumlah bersih") if cell("net_amount") else amount - fee
        yield SettlementRow(provider_trx_id=cell("provider_trx_id") or None, order_id=cell("order_id") or None,
                            amount=amount, fee=fee, net_amount=net,
                            settlement_date=_date(cell("settlement_date"), line) if cell("settlement_date") else None,
                            status=cell("status").lower() or "settlement")


def parse_csv(text: str) -> list[SettlementRow]:
    """All rows of a small settlement CSV held in a string."""
    return list(read_rows(io.StringIO(text)))


@dataclass(frozen=True)
class _Known:
    """The columns of a payment that matching needs (no ORM object is kept per row)."""
    id: str
    amount: int
    status: str
    late: bool
    sale_id: int | None
    differs_from_sale: bool = False


def _payments_for(batch: list[SettlementRow]) -> tuple[dict[str, _Known], dict[str, _Known]]:
    """The batch's payments by provider_trx_id and by order_id, in two queries (and one for the sale payments)."""
    columns = (Payment.id, Payment.amount, Payment.status, Payment.late, Payment.sale_id)
    trx_ids = {row.provider_trx_id for row in batch if row.provider_trx_id}
    order_ids = {row.order_id for row in batch if row.order_id}
    trx_rows = db.session.execute(db.select(Payment.provider_trx_id, *columns)
                                  .where(Payment.provider_trx_id.in_(trx_ids))).all() if trx_ids else []
    order_rows = db.session.execute(db.select(Payment.order_id, *columns)
                                    .where(Payment.order_id.in_(order_ids))).all() if order_ids else []
    paid_for_sales = {row.id for row in (*trx_rows, *order_rows)
                      if row.sale_id is not None and row.status in (states.PAID, states.REFUNDED)}
    differ = {payment.id for payment in db.session.scalars(db.select(Payment).where(Payment.id.in_(paid_for_sales)))
              if sale_mismatch(payment) is not None} if paid_for_sales else set()

    def known(key_and_columns) -> tuple[str, _Known]:
        key, *values = key_and_columns
        return key, _Known(*values, differs_from_sale=values[0] in differ)

    return dict(map(known, trx_rows)), dict(map(known, order_rows))


def paid_on(day: date) -> list[Payment]:
    """Payments Kasir holds as paid on a business day (WIB)."""
    start = datetime.combine(day, time.min, tzinfo=WIB)
    return db.session.scalars(db.select(Payment).where(
        Payment.status.in_([states.PAID, states.REFUNDED]), Payment.paid_at >= start,
        Payment.paid_at < start + timedelta(days=1)).order_by(Payment.paid_at)).all()


def _outcome(row: SettlementRow, payment: _Known | None, seen: set[str]) -> str:
    if row.status not in SETTLED_WORDS:
        return NOT_A_SETTLEMENT
    if payment is None or payment.status not in (states.PAID, states.REFUNDED):
        return MISSING_IN_KASIR
    if payment.id in seen:
        return DOUBLE
    seen.add(payment.id)
    if row.amount != payment.amount:
        return AMOUNT_MISMATCH
    if payment.differs_from_sale:
        return SALE_MISMATCH  # never "matched": the sale did not take this money as it is
    return LATE if payment.late else MATCHED


def _store_batch(batch: list[SettlementRow], day: date, source: str, provider: str, seen: set[str]) -> None:
    by_trx, by_order = _payments_for(batch)
    values = []
    for row in batch:
        payment = by_trx.get(row.provider_trx_id) or by_order.get(row.order_id)
        outcome = _outcome(row, payment, seen)
        values.append({"provider": provider, "provider_trx_id": row.provider_trx_id, "order_id": row.order_id,
                       "payment_id": payment.id if payment else None, "amount": row.amount, "fee": row.fee,
                       "net_amount": row.net_amount, "settlement_date": row.settlement_date or day,
                       "status": row.status[:30], "file": source[:200], "outcome": outcome,
                       "reconciled": outcome in SETTLED_AS_ASKED, "imported_at": utcnow()})
    db.session.execute(db.insert(Settlement), values)


def reconcile(day: date, rows: Iterable[SettlementRow], source: str) -> Report:
    """Store the rows (replacing an earlier import of the same source) in batches and build the report.

    Memory stays flat whatever the number of rows: rows are read, matched and inserted BATCH_SIZE at a time,
    and the report keeps counts plus the first SAMPLE_SIZE rows of each outcome.
    """
    provider = active_provider_name()
    seen: set[str] = set()  # payments already settled by this file: a second row for one is a double settlement
    rows = iter(rows)
    with write_transaction():
        db.session.execute(db.delete(Settlement).where(Settlement.file == source[:200]))
    try:
        # One short write transaction per batch: the till never waits long for the database.
        while batch := list(islice(rows, BATCH_SIZE)):
            with write_transaction():
                _store_batch(batch, day, source, provider, seen)
    except (SettlementFileError, UnicodeDecodeError):
        with write_transaction():  # a bad line refuses the whole file: no half-imported settlement
            db.session.execute(db.delete(Settlement).where(Settlement.file == source[:200]))
        raise
    return load_report(day, source)


def load_report(day: date, source: str) -> Report:
    """The report of a stored import: its rows by outcome, and the day's paid QRIS that no settlement covers."""
    source = source[:200]
    report = Report(day=day, source=source, counts=dict(db.session.execute(
        db.select(Settlement.outcome, db.func.count(Settlement.id)).where(Settlement.file == source)
        .group_by(Settlement.outcome)).all()))
    for outcome in SETTLEMENT_OUTCOMES:
        setattr(report, outcome, db.session.scalars(
            db.select(Settlement).where(Settlement.file == source, Settlement.outcome == outcome)
            .order_by(Settlement.id).limit(SAMPLE_SIZE)).all())
    paid = paid_on(day)
    settled = set(db.session.scalars(db.select(Settlement.payment_id).where(
        Settlement.payment_id.in_([payment.id for payment in paid]),
        Settlement.outcome.not_in([MISSING_IN_KASIR, NOT_A_SETTLEMENT]))))
    report.missing_at_gateway = [payment for payment in paid if payment.id not in settled]
    report.sale_mismatch = [mismatch for payment in paid if (mismatch := sale_mismatch(payment)) is not None]
    return report


def recent_sources(limit: int = 20) -> list[str]:
    """Imported files and provider runs, newest first."""
    newest = db.func.max(Settlement.imported_at)
    return db.session.scalars(db.select(Settlement.file).group_by(Settlement.file).order_by(newest.desc())
                              .limit(limit)).all()


def resolve_settlement(settlement: Settlement, note: str) -> None:
    """A person looked at a settlement row's difference and wrote down what was done (audited)."""
    settlement.resolution_note = _note(note)
    audit.record("ResolveReconciliation", f"settlement {settlement.id} {settlement.order_id or ''}",
                 detail=f"outcome={settlement.outcome} note={settlement.resolution_note}")
    db.session.commit()


def resolve_payment(payment: Payment, note: str) -> None:
    """The same for a payment the gateway did not settle, or a double payment (kept in its metadata)."""
    text = _note(note)
    payment.meta = {**(payment.meta or {}), "reconciliation": {"note": text, "at": utcnow().isoformat()}}
    audit.record("ResolveReconciliation", f"payment {payment.order_id}", detail=f"note={text}")
    db.session.commit()


def resolution_of(payment: Payment) -> str | None:
    return ((payment.meta or {}).get("reconciliation") or {}).get("note")


def _note(note: str) -> str:
    text = " ".join((note or "").split())[:300]
    if len(text) < 3:
        raise ReconciliationError("Tulis catatan penyelesaian (minimal 3 huruf).")
    return text


def run(day: date, csv_file: Path | None = None) -> Report:
    if csv_file is not None:
        try:
            with csv_file.open(encoding="utf-8-sig", newline="") as lines:
                return reconcile(day, read_rows(lines), csv_file.name)
        except UnicodeDecodeError:
            raise SettlementFileError(f"{csv_file.name} bukan teks UTF-8; simpan ulang sebagai \"CSV UTF-8\"") from None
        except OSError as exc:
            raise SettlementFileError(f"{csv_file.name} tidak bisa dibuka ({exc.strerror or 'galat berkas'})") from None
    provider = get_provider()
    return reconcile(day, provider.fetch_settlement(day), f"{provider.name}:{day.isoformat()}")


def reconcile_yesterday() -> Report | None:
    """The daily job: yesterday's settlement from the provider, once."""
    yesterday = datetime.now(WIB).date() - timedelta(days=1)
    if get_setting(LAST_RUN_SETTING) >= yesterday.isoformat():
        return None
    db.session.commit()  # end the read: the lease is taken in its own transaction
    if not take_lease("reconcile_yesterday", RECONCILE_LEASE):
        return None  # another server process is on it
    report = run(yesterday)
    set_setting(LAST_RUN_SETTING, yesterday.isoformat())
    db.session.commit()
    return report


def format_report(report: Report) -> str:
    def settlement_line(row: Settlement) -> str:
        mismatch = row.payment and row.outcome == AMOUNT_MISMATCH
        expected = f" (Kasir {format_rupiah(row.payment.amount)})" if mismatch else ""
        return f"  {row.order_id or '-'}  trx {row.provider_trx_id or '-'}  {format_rupiah(row.amount)}{expected}"

    def payment_line(payment: Payment) -> str:
        return f"  {payment.order_id}  trx {payment.provider_trx_id or '-'}  {format_rupiah(payment.amount)}  " \
               f"lunas {format_wib(payment.paid_at)}"

    def mismatch_line(mismatch: SaleMismatch) -> str:
        return f"  {mismatch.payment.order_id}  dibayar {format_rupiah(mismatch.payment.amount)}, transaksi " \
               f"{mismatch.payment.sale.display_number} {format_rupiah(mismatch.payment.sale.total)}: " \
               + "; ".join(mismatch.notes)

    lines = [f"Rekonsiliasi {report.day.isoformat()} ({report.source}): {report.rows} baris, "
             f"{report.count(MATCHED)} cocok."]
    sections = [
        ("Tidak ada di Kasir (dibayar di gateway)", report.missing_in_kasir, report.count(MISSING_IN_KASIR),
         settlement_line),
        ("Tidak ada di gateway (lunas di Kasir)", report.missing_at_gateway, len(report.missing_at_gateway),
         payment_line),
        ("Jumlah berbeda", report.amount_mismatch, report.count(AMOUNT_MISMATCH), settlement_line),
        ("Pembayaran terlambat (perlu ditinjau)", report.late, report.count(LATE), settlement_line),
        ("Settlement ganda", report.double_settlement, report.count(DOUBLE), settlement_line),
        ("Nominal beda dengan transaksi", report.sale_mismatch, len(report.sale_mismatch), mismatch_line),
    ]
    for title, items, total, render in sections:
        if total:
            lines.append(f"{title}: {total}")
            lines.extend(render(item) for item in items)
            if total > len(items):
                lines.append(f"  … dan {total - len(items)} lainnya")
    if report.clean:
        lines.append("Tidak ada selisih.")
    return "\n".join(lines)
