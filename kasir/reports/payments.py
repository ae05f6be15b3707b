"""The admin payments table: filters and the streamed CSV export."""
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..clock import WIB, format_wib
from ..csv_export import csv_lines
from ..extensions import db
from ..payments import states
from ..payments.models import Payment

CSV_COLUMNS = ("dibuat", "order_id", "jumlah", "status", "provider", "provider_trx_id", "no_referensi", "lunas",
               "terlambat", "sumber", "payment_id")
EXPORT_BATCH = 500


@dataclass(frozen=True)
class PaymentFilter:
    status: str = ""
    provider: str = ""
    order_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_args(cls, args) -> "PaymentFilter":
        def day(name):
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        status = args.get("status", "")
        return cls(status=status if status in states.ALL_STATES else "", provider=args.get("provider", "")[:20],
                   order_id=args.get("order_id", "").strip()[:50], date_from=day("from"), date_to=day("to"))

    def query(self):
        query = db.select(Payment)
        if self.status:
            query = query.where(Payment.status == self.status)
        if self.provider:
            query = query.where(Payment.provider == self.provider)
        if self.order_id:
            query = query.where(Payment.order_id.contains(self.order_id, autoescape=True))
        if self.date_from:
            query = query.where(Payment.created_at >= datetime.combine(self.date_from, time.min, tzinfo=WIB))
        if self.date_to:
            query = query.where(Payment.created_at < datetime.combine(self.date_to + timedelta(days=1), time.min,
                                                                      tzinfo=WIB))
        return query.order_by(Payment.created_at.desc(), Payment.id.desc())


def providers_in_use() -> list[str]:
    return db.session.scalars(db.select(Payment.provider).distinct().order_by(Payment.provider)).all()


def export_csv(payment_filter: PaymentFilter) -> Iterator[str]:
    """CSV lines, read from the database in batches so a long history never sits in memory."""
    payments = db.session.execute(payment_filter.query().execution_options(yield_per=EXPORT_BATCH)).scalars()
    yield from csv_lines(CSV_COLUMNS, (
        [format_wib(payment.created_at, "%Y-%m-%d %H:%M:%S"), payment.order_id, payment.amount, payment.status,
         payment.provider, payment.provider_trx_id or "", payment.provider_ref_no or "",
         format_wib(payment.paid_at, "%Y-%m-%d %H:%M:%S"), "ya" if payment.late else "",
         "kasir" if payment.sale_id else "api", payment.id]
        for payment in payments))
