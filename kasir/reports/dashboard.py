"""The payments dashboard: how QRIS did today and over the last 7 days, and what is still waiting.

What counts:
- a QR is *issued* when the provider accepted the charge (the payment got a QR string);
- it is *paid* when its money arrived (PAID, or REFUNDED later), on time or late: success rate = paid / issued;
- time to pay = paid_at − created_at of the paid ones (late ones included: the median shows the usual case);
- expired, cancelled, failed: the payment's state now (failed includes charges the provider refused: no QR);
- late payments, and money no sale took (late, double or over: to refund): by the moment they were paid, as
  in the sales report; sales left open with part of their money in ("Kurang"): the state now;
- webhook processing = received_at → processed_at; gateway delay = when the gateway says it sent the event
  (X-Timestamp of the signed format, Midtrans' settlement_time, Xendit's event "created") → received_at,
  for the deliveries that say so; refused deliveries (not stored, counted per hour by
  kasir.webhooks.rejections) count as errors;
- provider calls: kasir.payments.metrics;
- the backlog (callbacks, print jobs, unprocessed webhooks) is the state now, whatever the window.
"""
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from statistics import median

from sqlalchemy import case, func

from ..clock import as_utc, business_date, to_wib, utcnow, wib_day_bounds
from ..extensions import db
from ..models import PRINT_FAILED, PRINT_QUEUED, PrintJob
from ..payments import metrics, states
from ..payments.models import WEBHOOK_ERROR, WEBHOOK_PENDING, Callback, Payment, WebhookDelivery
from ..payments.providers.midtrans import parse_wib
from ..payments.providers.xendit import parse_iso
from ..webhooks import rejections
from .daily import Bar, Overpayment, ShortSale, bar_chart, late_payments_between, overpayments, short_sales

WEEK_DAYS = 7
DAY_NAMES = ("Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min")


@dataclass(frozen=True)
class Durations:
    """Seconds of a set of intervals, summarized."""
    count: int = 0
    average: float | None = None
    median: float | None = None
    longest: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> "Durations":
        if not seconds:
            return cls()
        return cls(count=len(seconds), average=sum(seconds) / len(seconds), median=median(seconds),
                   longest=max(seconds))


@dataclass
class Window:
    """The figures of one period [start, end)."""
    label: str
    start: datetime
    end: datetime
    attempts: int = 0
    issued: int = 0
    paid: int = 0
    expired: int = 0
    cancelled: int = 0
    failed: int = 0
    late: int = 0
    overpayments: list[Overpayment] = field(default_factory=list)  # paid in the window, no sale took it
    time_to_pay: Durations = field(default_factory=Durations)
    webhooks: int = 0
    webhook_errors: int = 0
    webhook_processing: Durations = field(default_factory=Durations)
    gateway_delay: Durations = field(default_factory=Durations)
    provider_calls: list[metrics.OperationStats] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        return self.paid / self.issued if self.issued else None

    @property
    def overpayment_total(self) -> int:
        return sum(over.amount for over in self.overpayments)


@dataclass(frozen=True)
class Backlog:
    callbacks_waiting: int
    callbacks_retrying: int  # waiting, and at least one attempt already failed
    callbacks_given_up: int
    oldest_waiting_callback_at: datetime | None
    print_queued: int
    print_failed: int
    webhooks_unprocessed: int


@dataclass
class Dashboard:
    today: Window
    week: Window
    backlog: Backlog
    daily_bars: list[Bar]
    short_sales: list[ShortSale]  # open now with part of their money in

    @property
    def needs_action(self) -> int:
        """Payments of the week with money to refund, and sales open short now."""
        return len(self.week.overpayments) + len(self.short_sales)

    @property
    def windows(self) -> tuple[Window, Window]:
        return self.today, self.week


def _seconds(later: datetime, earlier: datetime) -> float:
    return (as_utc(later) - as_utc(earlier)).total_seconds()


def _sent_by_signature_header(headers: dict | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int((headers or {}).get("X-Timestamp", "")), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# Gateways whose own format says when the event happened: Midtrans' settlement_time (WIB, on settlement
# notifications), Xendit's event "created" (shared/contracts/).
SENT_AT_IN_BODY = {"midtrans": lambda body: parse_wib(body.get("settlement_time")),
                   "xendit": lambda body: parse_iso(body.get("created"))}


def _gateway_sent_at(provider: str, headers: dict | None, payload: str | None) -> datetime | None:
    """When the gateway sent (or settled) a delivery, where the delivery says so."""
    sent_at = _sent_by_signature_header(headers)
    if sent_at is not None or payload is None or provider not in SENT_AT_IN_BODY:
        return sent_at
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return SENT_AT_IN_BODY[provider](body) if isinstance(body, dict) else None


def _payments(start: datetime, end: datetime) -> list:
    """(created_at, paid_at, status, has_qr) of the payments created in [start, end): columns, not objects."""
    return db.session.execute(
        db.select(Payment.created_at, Payment.paid_at, Payment.status, Payment.qr_string.is_not(None).label("has_qr"))
        .where(Payment.created_at >= start, Payment.created_at < end)).all()


def _add_payments(window: Window, rows: list) -> None:
    issued = [row for row in rows if row.has_qr]
    paid = [row for row in issued if row.paid_at is not None]
    statuses = Counter(row.status for row in rows)
    window.attempts, window.issued, window.paid = len(rows), len(issued), len(paid)
    window.time_to_pay = Durations.of([max(0.0, _seconds(row.paid_at, row.created_at)) for row in paid])
    window.expired, window.cancelled, window.failed = (statuses[states.EXPIRED], statuses[states.CANCELLED],
                                                       statuses[states.FAILED])
    window.late = late_payments_between(window.start, window.end)
    window.overpayments = overpayments(window.start, window.end)


def _add_webhooks(window: Window) -> None:
    body_if_it_dates_itself = case((WebhookDelivery.provider.in_(list(SENT_AT_IN_BODY)), WebhookDelivery.payload))
    rows = db.session.execute(
        db.select(WebhookDelivery.received_at, WebhookDelivery.processed_at, WebhookDelivery.status,
                  WebhookDelivery.headers, WebhookDelivery.provider, body_if_it_dates_itself.label("payload"))
        .where(WebhookDelivery.received_at >= window.start, WebhookDelivery.received_at < window.end)).all()
    window.webhooks = len(rows)
    window.webhook_errors = sum(1 for row in rows if row.status == WEBHOOK_ERROR) + rejections.refused_between(
        window.start, window.end)
    window.webhook_processing = Durations.of([max(0.0, _seconds(row.processed_at, row.received_at))
                                              for row in rows if row.processed_at is not None])
    delays = []
    for row in rows:
        sent_at = _gateway_sent_at(row.provider, row.headers, row.payload)
        if sent_at is not None:
            delays.append(max(0.0, _seconds(row.received_at, sent_at)))  # clocks differ a little: never negative
    window.gateway_delay = Durations.of(delays)


def build_window(label: str, start: datetime, end: datetime, payments: list | None = None) -> Window:
    """The figures of [start, end); `payments` when the caller has already read them (_payments)."""
    window = Window(label=label, start=start, end=end)
    _add_payments(window, _payments(start, end) if payments is None else payments)
    _add_webhooks(window)
    window.provider_calls = metrics.stats_between(start, end)
    return window


def backlog() -> Backlog:
    waiting = (Callback.delivered_at.is_(None), Callback.next_attempt_at.is_not(None))
    count = func.count(Callback.id)
    callbacks_waiting, callbacks_retrying, oldest = db.session.execute(
        db.select(count, func.count(case((Callback.attempts > 0, 1))), func.min(Callback.created_at))
        .where(*waiting)).one()
    given_up = db.session.scalar(db.select(count).where(Callback.delivered_at.is_(None),
                                                        Callback.next_attempt_at.is_(None)))
    print_counts = dict(db.session.execute(db.select(PrintJob.status, func.count(PrintJob.id))
                                           .where(PrintJob.status.in_([PRINT_QUEUED, PRINT_FAILED]))
                                           .group_by(PrintJob.status)).all())
    unprocessed = db.session.scalar(db.select(func.count(WebhookDelivery.id))
                                    .where(WebhookDelivery.status == WEBHOOK_PENDING))
    return Backlog(callbacks_waiting=callbacks_waiting, callbacks_retrying=callbacks_retrying,
                   callbacks_given_up=given_up, oldest_waiting_callback_at=as_utc(oldest) if oldest else None,
                   print_queued=print_counts.get(PRINT_QUEUED, 0), print_failed=print_counts.get(PRINT_FAILED, 0),
                   webhooks_unprocessed=unprocessed)


def _daily_bars(first_day: date, rows: list) -> list[Bar]:
    """QRs paid per WIB day of the week window; each bar's count is the QRs issued that day."""
    days = [first_day + timedelta(days=offset) for offset in range(WEEK_DAYS)]
    issued = Counter(to_wib(row.created_at).date() for row in rows if row.has_qr)
    paid = Counter(to_wib(row.created_at).date() for row in rows if row.has_qr and row.paid_at is not None)
    return bar_chart([paid[day] for day in days], [issued[day] for day in days],
                     [f"{DAY_NAMES[day.weekday()]} {day:%d/%m}" for day in days])


def build_dashboard(now: datetime | None = None) -> Dashboard:
    """"Hari ini" is the WIB day so far; "7 hari terakhir" is today and the six WIB days before it."""
    now = as_utc(now or utcnow())
    today = business_date(now)
    first_day = today - timedelta(days=WEEK_DAYS - 1)
    week_start = wib_day_bounds(first_day)[0]
    week_payments = _payments(week_start, now)
    return Dashboard(today=build_window("Hari ini", wib_day_bounds(today)[0], now),
                     week=build_window("7 hari terakhir", week_start, now, week_payments), backlog=backlog(),
                     daily_bars=_daily_bars(first_day, week_payments), short_sales=short_sales())
