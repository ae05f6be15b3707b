"""Tables of the payment API (DESIGN §4): API keys, idempotency records, the callback outbox, settlements."""
from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db
from ..models import Money, UTCDateTime
from ..payments.models import Payment


class ApiKey(db.Model):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # The token's first characters, shown in lists and used to revoke; the token itself is never stored.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


IDEMPOTENCY_IN_PROGRESS = "IN_PROGRESS"
IDEMPOTENCY_DONE = "DONE"


class IdempotencyKey(db.Model):
    """One Idempotency-Key of one API key: claimed (IN_PROGRESS) before any work, then the stored response."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_idempotency_keys_api_key_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12), default=IDEMPOTENCY_IN_PROGRESS)
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


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
