"""The interface every payment provider implements (DESIGN §6). Names are fixed; signatures may grow."""
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .. import metrics


@dataclass(frozen=True)
class Charge:
    qr_string: str | None
    provider_trx_id: str
    expires_at: datetime
    raw: dict[str, Any] = field(default_factory=dict)
    # What the screens show for a method other than QRIS: {"va": {"bank", "number", "biller_code"?}}
    # or {"payment_url": ...}; a QRIS charge carries its qr_string above.
    instructions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderStatus:
    status: str  # one of kasir.payments.states
    amount: int | None = None
    paid_at: datetime | None = None
    ref_no: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    reference: str | None  # our order_id
    provider_trx_id: str | None
    status: str  # one of kasir.payments.states
    amount: int | None
    ref_no: str | None


@dataclass(frozen=True)
class SettlementRow:
    provider_trx_id: str | None
    order_id: str | None
    amount: int
    fee: int
    net_amount: int
    settlement_date: date
    status: str


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    latency_ms: int | None
    message: str


class ProviderError(Exception):
    """A provider call failed. `message` is safe to show and log: no keys, no raw bodies.

    `message` is for people (Bahasa Indonesia); `code` is the snake_case error code the API reports.
    """

    def __init__(self, message: str, *, retryable: bool = False, code: str = "provider_error"):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code


class ProviderUnavailable(ProviderError):
    def __init__(self, message: str = "Penyedia pembayaran tidak dapat dihubungi.", *,
                 code: str = "provider_unavailable"):
        super().__init__(message, retryable=True, code=code)


class ProviderAuthError(ProviderError):
    def __init__(self, message: str = "Kunci API penyedia pembayaran ditolak."):
        super().__init__(message, retryable=False, code="provider_auth_failed")


class WebhookRejected(Exception):
    """Signature, token or timestamp of a webhook did not verify; nothing may be applied."""


class WebhookIgnored(Exception):
    """A genuine delivery that is not about our payments (another API version, another product): log, answer 200."""


class MalformedWebhook(ValueError):
    """A verified delivery whose body does not have the documented shape."""


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # Python accepts NaN and Infinity; JSON (and we) do not


def read_json_object(raw_body: bytes) -> dict:
    """The body of a webhook as a JSON object, or MalformedWebhook."""
    try:
        body = json.loads(raw_body, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise MalformedWebhook("body is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedWebhook("body must be a JSON object")
    return body


class Provider(ABC):
    name: str = ""
    # Whether the gateway tells us about payments by itself (webhook or pollable status).
    confirms_payments: bool = True
    # Whether confirm_event asks the gateway (a network call): a webhook is then committed before the call.
    confirms_events_online: bool = False
    # Whether create_qr is a network call. A new payment is then committed (CREATED) before the call and
    # answered after it; a provider that makes its QR here is charged inside that one transaction instead.
    charges_online: bool = True
    # Payment methods (kasir.payments.methods) this gateway can charge; QRIS alone unless it says more.
    methods: frozenset[str] = frozenset({"qris"})
    # Does refund() send the money back to the payer through the gateway? (a static QRIS only records one by hand)
    refunds_payer: bool = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        metrics.instrument(cls)  # every gateway call is timed for the payments dashboard

    @abstractmethod
    def create_qr(self, reference: str, amount: int, expires_at: datetime) -> Charge: ...

    def create_charge(self, method: str, reference: str, amount: int, expires_at: datetime, **options) -> Charge:
        """Charge `amount` by `method`; QRIS is create_qr, other methods belong to the providers offering them."""
        if method not in self.methods:
            raise ProviderError("Metode pembayaran ini tidak didukung penyedia pembayaran.",
                                code="method_not_supported")
        if method == "qris":
            return self.create_qr(reference, amount, expires_at)
        raise ProviderError("Metode pembayaran ini tidak didukung penyedia pembayaran.", code="method_not_supported")

    @abstractmethod
    def fetch_status(self, payment) -> ProviderStatus: ...

    @abstractmethod
    def cancel(self, payment) -> ProviderStatus: ...

    @abstractmethod
    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent: ...

    @abstractmethod
    def fetch_settlement(self, day: date) -> list[SettlementRow]: ...

    @abstractmethod
    def test_connection(self) -> ConnectionResult: ...

    @classmethod
    def from_settings(cls, settings) -> "Provider":
        """Build the provider from kasir.payments.gateway_settings (keys, URLs); most need none."""
        return cls()

    def expire(self, payment) -> ProviderStatus:
        """Stop a PENDING QR whose time is up; gateways without their own expiry call just cancel."""
        return self.cancel(payment)

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        """Return `amount` of a PAID payment to the payer; REFUNDED once the gateway accepts it."""
        raise ProviderError("Penyedia pembayaran ini tidak mendukung refund.", code="refund_not_supported")

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        """Re-read a stored delivery that was verified when it arrived (the job retrying unmatched ones)."""
        raise NotImplementedError

    def confirm_event(self, payment, event: WebhookEvent) -> WebhookEvent:
        """What to apply for a verified event; gateways whose notification is only a hint re-fetch the status."""
        return event


metrics.instrument(Provider)  # the default expire() and refund() are operations too
