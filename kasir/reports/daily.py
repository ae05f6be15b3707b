"""The back-office sales report for a day or a range of WIB days: totals by method, QRIS fees, hours, products.

Money follows the money rule of a sale (DESIGN §3, kasir.tenders): a sale's takings by method are its tenders
(a split sale counts in each of its methods by tender amount); the QRIS money received is what the gateways
paid, whether or not a sale took it: money no sale took (late, double or over) is listed to refund, and sales
left open with part of their money in are listed with what they still lack.
"""
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import case, func

from .. import tenders
from ..clock import format_wib, to_wib, wib_day_bounds
from ..csv_export import csv_lines
from ..extensions import db
from ..models import (
    METHOD_CASH,
    METHOD_DEBIT,
    METHOD_QRIS,
    METHOD_SPLIT,
    SALE_PAID,
    SALE_VOID,
    Sale,
    SaleItem,
    SaleReturn,
    Tender,
)
from ..payments import states
from ..payments.models import Payment, Settlement
from ..payments.refunds import refunded_amount, refunds_between

METHODS = (METHOD_CASH, METHOD_DEBIT, METHOD_QRIS)
TOP_PRODUCTS = 10
CSV_COLUMNS = ("nomor", "tanggal_bisnis", "lunas", "kasir", "register", "metode", "subtotal", "diskon", "total",
               "status", "alasan_batal", "tunai", "debit", "qris", "biaya_layanan", "dpp", "ppn", "pbjt",
               "pembulatan_tunai")
TAX_FIGURES = (Sale.service_charge, Sale.tax_dpp, Sale.tax_ppn, Sale.tax_pbjt, Sale.cash_rounding)
EXPORT_BATCH = 500
CHART_WIDTH, CHART_HEIGHT, CHART_BASELINE = 480, 160, 140


@dataclass(frozen=True)
class MethodTotal:
    method: str
    count: int
    amount: int


OVERPAYMENT_REASONS = {"lebih": "Lebih dari tagihan", "terlambat": "Terlambat (QR sudah batal/kedaluwarsa)",
                       "ganda": "Ganda (transaksi sudah lunas)"}


@dataclass(frozen=True)
class Overpayment:
    """A paid sale payment whose money its sale did not take (all of it, or the part over what was due)."""
    payment: Payment
    amount: int  # rupiah to refund

    @property
    def reason(self) -> str:
        """Why the money was not taken, as staff say it: "lebih" (more than due), "terlambat", "ganda"."""
        if self.amount < self.payment.amount:
            return "lebih"
        return "terlambat" if self.payment.late else "ganda"

    @property
    def reason_label(self) -> str:
        return OVERPAYMENT_REASONS[self.reason]


@dataclass(frozen=True)
class ShortSale:
    """An OPEN sale with part of its money in: "Kurang Rp X"."""
    sale: Sale
    received: int
    due: int


def overpayments(start: datetime | None = None, end: datetime | None = None,
                 register_id: int | None = None) -> list[Overpayment]:
    """Money paid in [start, end) that no sale took (kasir.tenders.unapplied_payments) and that has not been
    given back yet (a payment's refunds return its unapplied money first), of one register if given."""
    return [Overpayment(payment, left) for payment, amount in tenders.unapplied_payments(start, end)
            if (register_id is None or payment.sale.register_id == register_id)
            and (left := amount - min(refunded_amount(payment), amount)) > 0]


def short_sales(start: datetime | None = None, end: datetime | None = None,
                register_id: int | None = None) -> list[ShortSale]:
    """Sales still OPEN with money received (kasir.tenders.part_paid_sales), with a tender taken in [start, end)."""
    found = []
    for sale in tenders.part_paid_sales():
        if register_id is not None and sale.register_id != register_id:
            continue
        if any((start is None or tender.created_at >= start) and (end is None or tender.created_at < end)
               for tender in sale.tenders):
            found.append(ShortSale(sale, tenders.received(sale), tenders.due(sale)))
    return found


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
    by_method: dict[str, MethodTotal]  # tenders of the paid sales: a split sale counts in each of its methods
    split_count: int  # paid sales with several tenders ("Campuran")
    sale_count: int
    gross_total: int
    void_count: int
    void_total: int
    refund_count: int
    refund_total: int
    refund_of_sales: int  # of refund_total, what sales had taken (the rest was money to refund anyway)
    qris_fee: int
    qris_settled_count: int
    qris_expired_count: int
    qris_late_count: int
    qris_received_count: int  # QRIS money that came in (PAID or later refunded), by paid time, late and over included
    qris_received: int
    qris_api_count: int  # of which for other apps (API payments)
    qris_api: int
    overpayments: list[Overpayment]
    short_sales: list[ShortSale]
    top_products: list[ProductTotal]
    hourly_amounts: list[int] = field(default_factory=lambda: [0] * 24)
    hourly_counts: list[int] = field(default_factory=lambda: [0] * 24)
    discount_count: int = 0  # discounts given on paid sales (each discounted line and each sale discount)
    discount_total: int = 0
    # Sums of the paid sales' stored tax figures (docs/tax.md): service, DPP, PPN, PBJT, cash rounding.
    tax: dict[str, int] = field(default_factory=dict)
    return_count: int = 0  # returns at the till in the range ("Retur", kasir/returns.py), by their time
    return_total: int = 0
    return_qris: int = 0  # of return_total, what went back through the gateway to QRIS (the rest: cash)

    @property
    def return_cash(self) -> int:
        return self.return_total - self.return_qris

    @property
    def net_total(self) -> int:
        """What the shop keeps: paid sales less the QRIS refunds of money they had taken and the returns."""
        return self.gross_total - self.refund_of_sales - self.return_total

    @property
    def average_basket(self) -> int:
        return round(self.gross_total / self.sale_count) if self.sale_count else 0

    @property
    def qris_for_sales(self) -> int:
        """QRIS money that paid sales took (their QRIS tenders)."""
        return self.by_method[METHOD_QRIS].amount

    @property
    def overpayment_total(self) -> int:
        return sum(over.amount for over in self.overpayments)

    @property
    def short_total(self) -> int:
        return sum(short.due for short in self.short_sales)

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
    """Per method: the paid sales with a tender of it, and the rupiah those tenders settled."""
    rows = db.session.execute(
        db.select(Tender.method, func.count(Tender.sale_id.distinct()), func.coalesce(func.sum(Tender.amount), 0))
        .join(Sale, Tender.sale_id == Sale.id)
        .where(Sale.business_date >= date_from, Sale.business_date <= date_to, Sale.status == SALE_PAID)
        .group_by(Tender.method)).all()
    found = {method: MethodTotal(method, count, int(amount)) for method, count, amount in rows}
    return {method: found.get(method, MethodTotal(method, 0, 0)) for method in METHODS}


def _sale_figures(date_from: date, date_to: date) -> tuple[int, int, int, int, int]:
    """(paid count, paid rupiah, split count, void count, void rupiah) of the range's sales, in one query."""
    paid, void = Sale.status == SALE_PAID, Sale.status == SALE_VOID
    row = db.session.execute(
        db.select(func.count(case((paid, 1))), func.coalesce(func.sum(case((paid, Sale.total))), 0),
                  func.count(case((paid & (Sale.method == METHOD_SPLIT), 1))),
                  func.count(case((void, 1))), func.coalesce(func.sum(case((void, Sale.total))), 0))
        .where(Sale.business_date >= date_from, Sale.business_date <= date_to,
               Sale.status.in_([SALE_PAID, SALE_VOID]))).one()
    return tuple(int(value) for value in row)


def qris_received_between(start: datetime, end: datetime) -> dict[bool, tuple[int, int]]:
    """{is an API payment: (count, rupiah)} of the QRIS money that came in [start, end): every payment that
    became PAID then (refunded later or not), late and over money included."""
    api = Payment.sale_id.is_(None).label("api")
    rows = db.session.execute(
        db.select(api, func.count(Payment.id), func.coalesce(func.sum(Payment.amount), 0))
        .where(Payment.status.in_([states.PAID, states.REFUNDED]), Payment.paid_at >= start, Payment.paid_at < end)
        .group_by(api)).all()
    found = {bool(is_api): (count, int(amount)) for is_api, count, amount in rows}
    return {is_api: found.get(is_api, (0, 0)) for is_api in (False, True)}


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


def tax_in(date_from: date, date_to: date) -> dict[str, int]:
    """Service charge, DPP, PPN, PBJT and cash rounding summed over the range's paid sales, as they were sold."""
    sums = db.session.execute(_sales_in(date_from, date_to, SALE_PAID).with_only_columns(
        *(func.coalesce(func.sum(column), 0) for column in TAX_FIGURES))).one()
    return {column.key: int(value) for column, value in zip(TAX_FIGURES, sums, strict=True)}


def returns_between(start: datetime, end: datetime) -> tuple[int, int, int]:
    """(count, rupiah refunded, of which back to QRIS) of the returns taken at the till between start and end."""
    count, total, qris = db.session.execute(
        db.select(func.count(SaleReturn.id), func.coalesce(func.sum(SaleReturn.amount), 0),
                  func.coalesce(func.sum(SaleReturn.qris_amount), 0))
        .where(SaleReturn.created_at >= start, SaleReturn.created_at < end)).one()
    return count, int(total), int(qris)


def late_payments_between(start: datetime, end: datetime) -> int:
    """QRIS paid in [start, end) after the QR had expired or been cancelled (flagged for review)."""
    return db.session.scalar(db.select(func.count(Payment.id))
                             .where(Payment.late.is_(True), Payment.paid_at >= start, Payment.paid_at < end))


def build_report(date_from: date, date_to: date | None = None) -> SalesReport:
    """The report for the WIB days date_from..date_to (inclusive)."""
    date_to = date_to or date_from
    start, _ = wib_day_bounds(date_from)
    _, end = wib_day_bounds(date_to)
    by_method = _method_totals(date_from, date_to)
    sale_count, gross_total, split_count, void_count, void_total = _sale_figures(date_from, date_to)
    refunds = refunds_between(start, end)

    # The fee of the QRIS money the range's paid sales took: their QRIS tenders' payments.
    qris_tenders = db.select(Tender.payment_id).join(Sale, Tender.sale_id == Sale.id).where(
        Tender.payment_id.is_not(None), Sale.status == SALE_PAID, Sale.business_date >= date_from,
        Sale.business_date <= date_to)
    settled = db.session.execute(db.select(func.count(Settlement.id), func.coalesce(func.sum(Settlement.fee), 0))
                                 .where(Settlement.payment_id.in_(qris_tenders),
                                        Settlement.reconciled.is_(True))).one()
    created_in_range = (Payment.created_at >= start, Payment.created_at < end)
    expired = db.session.scalar(db.select(func.count(Payment.id))
                                .where(Payment.status == states.EXPIRED, *created_in_range))
    received = qris_received_between(start, end)

    report = SalesReport(
        date_from=date_from, date_to=date_to, by_method=by_method, split_count=split_count,
        sale_count=sale_count, gross_total=gross_total, void_count=void_count, void_total=void_total,
        refund_count=refunds.count, refund_total=refunds.total, refund_of_sales=refunds.of_sales,
        qris_fee=int(settled[1]), qris_settled_count=settled[0], qris_expired_count=expired,
        qris_late_count=late_payments_between(start, end),
        qris_received_count=received[False][0] + received[True][0],
        qris_received=received[False][1] + received[True][1],
        qris_api_count=received[True][0], qris_api=received[True][1],
        overpayments=overpayments(start, end), short_sales=short_sales(start, end),
        top_products=_top_products(date_from, date_to))
    report.discount_count, report.discount_total = discounts_in(date_from, date_to)
    report.tax = tax_in(date_from, date_to)
    report.return_count, report.return_total, report.return_qris = returns_between(start, end)
    for paid_at, total in db.session.execute(_sales_in(date_from, date_to, SALE_PAID)
                                             .with_only_columns(Sale.paid_at, Sale.total)):
        hour = to_wib(paid_at).hour
        report.hourly_amounts[hour] += total
        report.hourly_counts[hour] += 1
    return report


def export_csv(date_from: date, date_to: date) -> Iterator[str]:
    """Every paid and voided sale of the range, one CSV line each with its tenders by method, read from the
    database in batches.

    A generator: the query runs while the response streams, inside the request's context and session.
    """
    by_method = [func.coalesce(func.sum(case((Tender.method == method, Tender.amount), else_=0)), 0).label(method)
                 for method in METHODS]
    paid_by = db.select(Tender.sale_id, *by_method).group_by(Tender.sale_id).subquery()
    query = (_sales_in(date_from, date_to, SALE_PAID, SALE_VOID)
             .add_columns(*(func.coalesce(paid_by.c[method], 0) for method in METHODS))
             .outerjoin(paid_by, paid_by.c.sale_id == Sale.id).order_by(Sale.paid_at, Sale.id))
    rows = db.session.execute(query.execution_options(yield_per=EXPORT_BATCH))
    yield from csv_lines(CSV_COLUMNS, (
        [sale.display_number, sale.business_date.isoformat(), format_wib(sale.paid_at, "%Y-%m-%d %H:%M:%S"),
         sale.cashier.display_name if sale.cashier else "", sale.register.code, sale.method or "", sale.subtotal,
         sale.discount, sale.total, sale.status, sale.void_reason or "", *(int(amount) for amount in amounts),
         *(getattr(sale, column.key) for column in TAX_FIGURES)]
        for sale, *amounts in rows))
