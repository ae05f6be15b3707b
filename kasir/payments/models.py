"""Payment tables (DESIGN §4): payments, their log, webhook deliveries, the callback outbox, settlements and the
mock gateway's ledger."""
import uuid
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db
from ..models import Money, Sale, UTCDateTime
from . import states


def new_uuid() -> str:
    return str(uuid.uuid4())


class Payment(db.Model):
    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_status_next_sync_at", "status", "next_sync_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    order_id: Mapped[str] = mapped_column(String(50), unique=True)
    amount: Mapped[int] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="IDR")
    status: Mapped[str] = mapped_column(String(10), default=states.CREATED)
    provider: Mapped[str] = mapped_column(String(20))
    provider_trx_id: Mapped[str | None] = mapped_column(String(100), index=True)
    provider_ref_no: Mapped[str | None] = mapped_column(String(100))
    qr_string: Mapped[str | None] = mapped_column(db.Text)
    # How the customer pays (kasir.payments.methods); for va/link what the screens show: {"va": {...}} or
    # {"payment_url": ...}.
    method: Mapped[str] = mapped_column(String(10), default="qris", server_default="qris")
    instructions: Mapped[dict | None] = mapped_column(JSON)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(default=False)
    # Set when a person should look at this payment: a late settlement or a second payment for one sale.
    review_reason: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(300))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    attempt: Mapped[int] = mapped_column(default=1)
    api_key_id: Mapped[int | None] = mapped_column(index=True)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    meta: Mapped[dict | None] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_count: Mapped[int] = mapped_column(default=0)

    sale: Mapped[Sale | None] = relationship(backref="payments")
    logs: Mapped[list["PaymentLog"]] = relationship(back_populates="payment", order_by="PaymentLog.id")

    @property
    def status_label(self) -> str:
        return states.LABELS.get(self.status, self.status)


class PaymentLog(db.Model):
    __tablename__ = "payment_logs"
    # The day report finds a day's refunds by event and time.
    __table_args__ = (Index("ix_payment_logs_event_at", "event", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(10))
    to_status: Mapped[str | None] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(db.Text, default="")

    payment: Mapped[Payment] = relationship(back_populates="logs")


WEBHOOK_PENDING = "PENDING"
WEBHOOK_OK = "OK"
WEBHOOK_ERROR = "ERROR"


class WebhookDelivery(db.Model):
    """One received webhook, stored before it is processed (table `webhook_events`)."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_webhook_events_provider_event_id"),
                      UniqueConstraint("provider", "transaction_key",
                                       name="uq_webhook_events_provider_transaction_key"),
                      Index("ix_webhook_events_status_received_at", "status", "received_at"),
                      Index("ix_webhook_events_received_at", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    # NULL for deliveries that failed verification: a forged id must not block the genuine event.
    event_id: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[dict | None] = mapped_column(JSON)
    payload: Mapped[str] = mapped_column(db.Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=WEBHOOK_PENDING)
    error: Mapped[str | None] = mapped_column(String(300))
    attempts: Mapped[int] = mapped_column(default=0)
    payment_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # While a request or a job processes a PENDING delivery, others leave it alone until this passes (NULL: due).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # One per transaction, status and amount (kasir.webhooks.service.transaction_key): a captured delivery
    # replayed under a new event id is a duplicate too, since only the body is signed.
    transaction_key: Mapped[str | None] = mapped_column(String(64))


class WebhookRejection(db.Model):
    """Refused webhook deliveries of one hour, provider, sender and outcome: a count and a few samples.

    A refused delivery is not stored (anyone can send one); kasir.webhooks.rejections counts it in memory
    and its job adds the counts here, keeping the first SAMPLES_PER_ROW samples (headers subset, the
    start of the body, the reason) for whoever looks into it.
    """

    __tablename__ = "webhook_rejections"
    __table_args__ = (UniqueConstraint("hour", "provider", "source", "outcome",
                                       name="uq_webhook_rejections_hour_provider_source_outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    provider: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(64))  # the sender's address
    outcome: Mapped[str] = mapped_column(String(20))  # kasir.webhooks.rejections.OUTCOMES
    count: Mapped[int] = mapped_column(default=0)
    samples: Mapped[list | None] = mapped_column(JSON)


class MockLedgerEntry(db.Model):
    """The mock gateway's own books: what it would know about a QR it issued."""

    __tablename__ = "mock_ledger"

    provider_trx_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    reference: Mapped[str] = mapped_column(String(50), index=True)
    amount: Mapped[int] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(10), default=states.PENDING)
    qr_string: Mapped[str] = mapped_column(db.Text)
    ref_no: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProviderCallStat(db.Model):
    """Provider calls of one minute, one provider and one operation, as one process counted them.

    Each process flushes its own counts (kasir.payments.metrics); readers add the rows up, so two
    processes flushing the same minute never collide.
    """

    __tablename__ = "provider_call_stats"

    id: Mapped[int] = mapped_column(primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    provider: Mapped[str] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(20))
    calls: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    total_ms: Mapped[int] = mapped_column(Money, default=0)
    max_ms: Mapped[int] = mapped_column(default=0)


# Callback.last_error of a failed attempt: a code (or "HTTP <status>" for the receiver's own answer),
# shown to the admin in words, never with an address, a port or an exception's text.
ERROR_REFUSED_TARGET = "refused_target"
ERROR_TIMEOUT = "timeout"
ERROR_UNREACHABLE = "unreachable"
ERROR_LABELS = {
    ERROR_REFUSED_TARGET: "Alamat callback tidak diizinkan (jaringan lokal/internal)",
    ERROR_TIMEOUT: "Penerima tidak menjawab tepat waktu",
    ERROR_UNREACHABLE: "Penerima tidak dapat dihubungi",
}


class Callback(db.Model):
    """The outbox of signed notifications to an API client's callback_url."""

    __tablename__ = "callbacks"
    __table_args__ = (Index("ix_callbacks_delivered_at_next_attempt_at", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(db.Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment: Mapped[Payment] = relationship()

    @property
    def given_up(self) -> bool:
        return self.delivered_at is None and self.next_attempt_at is None

    @property
    def error_label(self) -> str | None:
        """The last attempt's error for the admin page, in Indonesian."""
        if not self.last_error:
            return None
        if self.last_error.startswith("HTTP "):
            return f"Penerima menolak (kode {self.last_error[5:]})"
        return ERROR_LABELS.get(self.last_error, "Gagal terkirim")


class Settlement(db.Model):
    """One row of a gateway's settlement report, matched (or not) to a payment."""

    __tablename__ = "settlements"
    __table_args__ = (Index("ix_settlements_settlement_date", "settlement_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_trx_id: Mapped[str | None] = mapped_column(String(100), index=True)
    order_id: Mapped[str | None] = mapped_column(String(50))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[int] = mapped_column(Money)
    fee: Mapped[int] = mapped_column(Money, default=0)
    net_amount: Mapped[int] = mapped_column(Money)
    settlement_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(30), default="settlement")
    file: Mapped[str] = mapped_column(String(200), default="")
    reconciled: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str | None] = mapped_column(String(30))
    # Set when a person has looked at a difference and written down what was done about it.
    resolution_note: Mapped[str | None] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raw: Mapped[dict | None] = mapped_column(JSON)

    payment: Mapped[Payment | None] = relationship()
