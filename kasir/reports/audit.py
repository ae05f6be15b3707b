"""The audit log viewer: filters, sanitized rows and the streamed CSV export.

Details were sanitized when they were written (kasir.audit); they pass through the log redaction again on
the way out, so a secret that slipped into an old row still never reaches a browser or a CSV file.
"""
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from ..clock import format_wib, wib_day_bounds
from ..csv_export import csv_lines
from ..extensions import db
from ..models import AuditLog
from ..redaction import redact

CSV_COLUMNS = ("waktu", "pengguna", "aksi", "target", "hasil", "detail", "ip")
OUTCOME_LABELS = {"ok": "berhasil", "error": "galat", "failed": "gagal", "denied": "ditolak", "refused": "ditolak",
                  "rejected": "ditolak", "review": "perlu ditinjau"}
EXPORT_BATCH = 500


@dataclass(frozen=True)
class AuditRow:
    """One audit entry as it may be shown: every free text redacted."""
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: str
    ip: str

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)

    @classmethod
    def of(cls, entry: AuditLog) -> "AuditRow":
        return cls(id=entry.id, at=entry.at, actor=entry.actor, action=entry.action, target=redact(entry.target),
                   outcome=entry.outcome, detail=redact(entry.detail), ip=entry.ip)


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_args(cls, args) -> "AuditFilter":
        def day(name):
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        date_from, date_to = day("from"), day("to")
        if date_from and date_to and date_from > date_to:
            date_from, date_to = date_to, date_from
        return cls(actor=args.get("actor", "").strip()[:40], action=args.get("action", "").strip()[:40],
                   date_from=date_from, date_to=date_to)

    @property
    def args(self) -> dict[str, str]:
        """The filter as query arguments (for the CSV link and the pages)."""
        values = {"actor": self.actor, "action": self.action,
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        return {name: value for name, value in values.items() if value}

    def query(self):
        """Entries matching the filter, newest first; dates are WIB days, `at` is stored in UTC."""
        query = db.select(AuditLog)
        if self.actor:
            query = query.where(AuditLog.actor == self.actor)
        if self.action:
            query = query.where(AuditLog.action == self.action)
        if self.date_from:
            query = query.where(AuditLog.at >= wib_day_bounds(self.date_from)[0])
        if self.date_to:
            query = query.where(AuditLog.at < wib_day_bounds(self.date_to)[1])
        return query.order_by(AuditLog.at.desc(), AuditLog.id.desc())


def sanitized(entries: Iterable[AuditLog]) -> list[AuditRow]:
    return [AuditRow.of(entry) for entry in entries]


def actions_in_use() -> list[str]:
    return db.session.scalars(db.select(AuditLog.action).distinct().order_by(AuditLog.action)).all()


def actors_in_use() -> list[str]:
    return db.session.scalars(db.select(AuditLog.actor).distinct().order_by(AuditLog.actor)).all()


def export_csv(audit_filter: AuditFilter) -> Iterator[str]:
    """The filtered entries as CSV lines, read in batches so a long history never sits in memory.

    A generator: the query runs while the response streams, inside the request's context and session.
    """
    entries = db.session.scalars(audit_filter.query().execution_options(yield_per=EXPORT_BATCH))
    yield from csv_lines(CSV_COLUMNS, (
        [format_wib(row.at, "%Y-%m-%d %H:%M:%S"), row.actor, row.action, row.target, row.outcome, row.detail, row.ip]
        for row in map(AuditRow.of, entries)))
