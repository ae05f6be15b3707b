"""The back-office sales report for a day or a range of WIB days: totals by method, QRIS fees, hours, products."""
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func

from ..api.models import Settlement
from ..clock import format_wib, to_wib, wib_day_bounds
from ..csv_export import csv_lines
from ..extensions import db
from ..models import (
    METHOD_CASH,
    METHOD_DEBIT,
    METHOD_QRIS,
    SALE_PAID,
    SALE_VOID,
    Sale,
    SaleItem,
)
from ..payments import states
from ..payments.models import Payment
from ..payments.service import refunds_between

METHODS = (METHOD_CASH, METHOD_DEBIT, METHOD_QRIS)
TOP_PRODUCTS = 10
CSV_COLUMNS = ("nomor", "tanggal_bisnis", "lunas", "kasir", "register", "metode", "subtotal", "diskon", "total",
               "status", "alasan_batal")
EXPORT_BATCH = 500
CHART_WIDTH, CHART_HEIGHT, CHART_BASELINE = 480, 160, 140


@dataclass(frozen=True)
class MethodTotal:
    method: str
    count: int
    amount: int


@dataclass(frozen=True)
class ProductTotal:
    sku: str
    name: str
    quantity: int
    amount: int


@dataclass(frozen=True)
class Bar:
    """One slot of a bar chart (an hour, a day), already placed in SVG coordinates."""
    slot: int
    label: str  # printed under the bar; empty to keep a crowded axis legible
    value: int  # what the bar's height shows
    count: int
    x: int
    y: int
    width: int
    height: int


def bar_chart(values: list[int], counts: list[int], labels: list[str]) -> list[Bar]:
    """Bars for CHART_WIDTH x CHART_HEIGHT (templates/admin/_bar_chart.html), scaled to the highest value."""
    highest = max(values, default=0) or 1
    slot_width = CHART_WIDTH // max(len(values), 1)
    bars = []
    for slot, (value, count, label) in enumerate(zip(values, counts, labels)):
        height = round(value * (CHART_BASELINE - 10) / highest)
        bars.append(Bar(slot=slot, label=label, value=value, count=count, x=slot * slot_width + 2,
                        y=CHART_BASELINE - height, width=slot_width - 4, height=height))
    return bars


@dataclass
class SalesReport:
    date_from: date
    date_to: date
    by_method: dict[str, MethodTotal]
    sale_count: int
    gross_total: int
    void_count: int
    void_total: int
    refund_count: int
    refund_total: int
    qris_fee: int
    qris_settled_count: int
    qris_expired_count: int
    qris_late_count: int
    double_payment_count: int
    double_payment_total: int
    top_products: list[ProductTotal]
    hourly_amounts: list[int] = field(default_factory=lambda: [0] * 24)
    hourly_counts: list[int] = field(default_factory=lambda: [0] * 24)
    discount_count: int = 0  # discounts given on paid sales (each discounted line and each sale discount)
    discount_total: int = 0

    @property
    def net_total(self) -> int:
        """What the shop keeps: paid sales less QRIS refunds."""
        return self.gross_total - self.refund_total

    @property
    def average_basket(self) -> int:
        return round(self.gross_total / self.sale_count) if self.sale_count else 0

    @property
    def qris_net(self) -> int:
        """QRIS takings less the gateway fee of the rows settled so far."""
        return self.by_method[METHOD_QRIS].amount - self.qris_fee

    @property
    def bars(self) -> list[Bar]:
        """The sales-by-hour chart (WIB hours 0–23) as bars scaled to the busiest hour."""
        return bar_chart(self.hourly_amounts, self.hourly_counts,
                         [f"{hour:02d}" if hour % 3 == 0 else "" for hour in range(24)])


def _sales_in(date_from: date, date_to: date, *statuses: str):
    return db.select(Sale).where(Sale.business_date >= date_from, Sale.business_date <= date_to,
                                 Sale.status.in_(statuses))


def _method_totals(date_from: date, date_to: date) -> dict[str, MethodTotal]:
    rows = db.session.execute(
        db.select(Sale.method, func.count(Sale.id), func.coalesce(func.sum(Sale.total), 0))
        .where(Sale.business_date >= date_from, Sale.business_date <= date_to, Sale.status == SALE_PAID)
        .group_by(Sale.method)).all()
    found = {method: MethodTotal(method, count, int(amount)) for method, count, amount in rows}
    return {method: found.get(method, MethodTotal(method, 0, 0)) for method in METHODS}


def _top_products(date_from: date, date_to: date) -> list[ProductTotal]:
    paid = _sales_in(date_from, date_to, SALE_PAID).with_only_columns(Sale.id)
    quantity = func.sum(SaleItem.quantity)
    amount = func.sum(SaleItem.unit_price * SaleItem.quantity - SaleItem.discount)
    rows = db.session.execute(
        db.select(SaleItem.sku, func.max(SaleItem.name), quantity, amount)
        .where(SaleItem.sale_id.in_(paid)).group_by(SaleItem.sku)
        .order_by(amount.desc(), SaleItem.sku).limit(TOP_PRODUCTS)).all()
    return [ProductTotal(sku, name, int(qty), int(total)) for sku, name, qty, total in rows]


def discounts_in(date_from: date, date_to: date) -> tuple[int, int]:
    """(count, rupiah) of the discounts on the paid sales of the range: every discounted line and sale counts once."""
    paid = _sales_in(date_from, date_to, SALE_PAID).with_only_columns(Sale.id)
    lines = db.session.execute(db.select(func.count(SaleItem.id), func.coalesce(func.sum(SaleItem.discount), 0))
                               .where(SaleItem.sale_id.in_(paid), SaleItem.discount > 0)).one()
    sales = db.session.execute(_sales_in(date_from, date_to, SALE_PAID).where(Sale.discount > 0)
                               .with_only_columns(func.count(Sale.id), func.coalesce(func.sum(Sale.discount), 0))).one()
    return lines[0] + sales[0], int(lines[1]) + int(sales[1])


def late_payments_between(start: datetime, end: datetime) -> int:
    """QRIS paid in [start, end) after the QR had expired or been cancelled (flagged for review)."""
    return db.session.scalar(db.select(func.count(Payment.id))
                             .where(Payment.late.is_(True), Payment.paid_at >= start, Payment.paid_at < end))


def double_payments_between(start: datetime, end: datetime) -> tuple[int, int]:
    """(count, rupiah) of payments in [start, end) for a sale that was already paid: to refund."""
    count, total = db.session.execute(
        db.select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.review_reason.startswith("Pembayaran ganda"), Payment.paid_at >= start,
               Payment.paid_at < end)).one()
    return count, int(total)


def build_report(date_from: date, date_to: date | None = None) -> SalesReport:
    """The report for the WIB days date_from..date_to (inclusive)."""
    date_to = date_to or date_from
    start, _ = wib_day_bounds(date_from)
    _, end = wib_day_bounds(date_to)
    by_method = _method_totals(date_from, date_to)
    voids = db.session.execute(_sales_in(date_from, date_to, SALE_VOID)
                               .with_only_columns(func.count(Sale.id), func.coalesce(func.sum(Sale.total), 0))).one()
    refund_count, refund_total = refunds_between(start, end)

    qris_paid = db.select(Payment.id).join(Sale, Payment.sale_id == Sale.id).where(
        Sale.method == METHOD_QRIS, Sale.status == SALE_PAID, Sale.business_date >= date_from,
        Sale.business_date <= date_to, Payment.status.in_([states.PAID, states.REFUNDED]))
    settled = db.session.execute(db.select(func.count(Settlement.id), func.coalesce(func.sum(Settlement.fee), 0))
                                 .where(Settlement.payment_id.in_(qris_paid), Settlement.reconciled.is_(True))).one()
    created_in_range = (Payment.created_at >= start, Payment.created_at < end)
    expired = db.session.scalar(db.select(func.count(Payment.id))
                                .where(Payment.status == states.EXPIRED, *created_in_range))
    late = late_payments_between(start, end)
    doubles = double_payments_between(start, end)

    report = SalesReport(
        date_from=date_from, date_to=date_to, by_method=by_method,
        sale_count=sum(total.count for total in by_method.values()),
        gross_total=sum(total.amount for total in by_method.values()),
        void_count=voids[0], void_total=int(voids[1]), refund_count=refund_count, refund_total=refund_total,
        qris_fee=int(settled[1]), qris_settled_count=settled[0], qris_expired_count=expired, qris_late_count=late,
        double_payment_count=doubles[0], double_payment_total=doubles[1],
        top_products=_top_products(date_from, date_to))
    report.discount_count, report.discount_total = discounts_in(date_from, date_to)
    for paid_at, total in db.session.execute(_sales_in(date_from, date_to, SALE_PAID)
                                             .with_only_columns(Sale.paid_at, Sale.total)):
        hour = to_wib(paid_at).hour
        report.hourly_amounts[hour] += total
        report.hourly_counts[hour] += 1
    return report


def export_csv(date_from: date, date_to: date) -> Iterator[str]:
    """Every paid and voided sale of the range, one CSV line each, read from the database in batches.

    A generator: the query runs while the response streams, inside the request's context and session.
    """
    query = _sales_in(date_from, date_to, SALE_PAID, SALE_VOID).order_by(Sale.paid_at, Sale.id)
    sales = db.session.scalars(query.execution_options(yield_per=EXPORT_BATCH))
    yield from csv_lines(CSV_COLUMNS, (
        [sale.display_number, sale.business_date.isoformat(), format_wib(sale.paid_at, "%Y-%m-%d %H:%M:%S"),
         sale.cashier.display_name if sale.cashier else "", sale.register.code, sale.method or "", sale.subtotal,
         sale.discount, sale.total, sale.status, sale.void_reason or ""] for sale in sales))
