"""Xendit QR Codes API, api-version 2022-07-31 (shared/contracts/xendit.md): dynamic IDR QRIS and its callback.

No idempotency header exists for /qr_codes, so a create is never retried: after a network error the
payment fails and the cashier's next QR uses a new reference id. Callbacks are checked by the
dashboard's callback token and keyed on `data.id`.
"""
import hmac
import math
import secrets
from datetime import date, datetime

from ...clock import as_utc
from .. import states
from .base import (
    Charge,
    ConnectionResult,
    MalformedWebhook,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderStatus,
    ProviderUnavailable,
    SettlementRow,
    WebhookEvent,
    WebhookIgnored,
    WebhookRejected,
    read_json_object,
)
from .http import GatewayClient, GatewayResponse, segment

LABEL = "Xendit"
API_VERSION = "2022-07-31"
CALLBACK_TOKEN_HEADER = "x-callback-token"
KEPT_FIELDS = ("id", "reference_id", "status", "amount", "currency", "channel_code", "expires_at")


def iso_z(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def whole_rupiah(value) -> int | None:
    """Amounts are JSON numbers; 27500 and 27500.0 are the same rupiah, 27500.5 is not an amount."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if value != int(value) or value <= 0:
        return None
    return int(value)


def _text(value) -> str | None:
    """A string field of a callback, or None for anything else (JSON from outside may hold any type)."""
    return value if isinstance(value, str) and value else None


def _gateway_error(response: GatewayResponse, action: str) -> ProviderError:
    error_code = str((response.body or {}).get("error_code") or "")
    status = response.http_status
    if status == 401 or error_code == "INVALID_API_KEY":
        return ProviderAuthError("Secret key Xendit ditolak (401). Periksa kunci di Pengaturan Pembayaran.")
    if error_code == "CHANNEL_NOT_ACTIVATED":
        return ProviderError("QRIS belum diaktifkan di akun Xendit (CHANNEL_NOT_ACTIVATED).",
                             code="provider_channel_not_activated")
    if error_code == "DUPLICATE_ERROR" or status == 409:
        return ProviderError("Reference ID ini sudah pernah dipakai di Xendit. Buat QR baru.",
                             code="duplicate_order_id")
    if error_code == "API_VALIDATION_ERROR" or status == 400:
        return ProviderError(f"Xendit menolak data {action} (validasi).", code="provider_validation_error")
    if status == 403:
        return ProviderError(f"Secret key Xendit tidak punya izin untuk {action} (403).", code="provider_forbidden")
    if status == 404:
        return ProviderError("Data tidak ditemukan di Xendit (404).", code="provider_not_found")
    if status == 429:
        return ProviderUnavailable("Xendit membatasi permintaan (429). Coba lagi sebentar lagi.",
                                   code="provider_rate_limited")
    if status >= 500 or response.body is None:
        return ProviderUnavailable(f"Xendit sedang bermasalah ({error_code or status}). Coba lagi.")
    return ProviderError(f"Xendit menolak {action} ({error_code or status}).")


class XenditProvider(Provider):
    name = "xendit"

    def __init__(self, secret_key: str, callback_token: str, base_url: str, *,
                 timeouts: tuple[float, float] = (3, 10)):
        self._secret_key = secret_key
        self._callback_token = callback_token
        self._client = GatewayClient(LABEL, base_url, secret_key, timeouts=timeouts,
                                     headers={"api-version": API_VERSION})

    @classmethod
    def from_settings(cls, settings) -> "XenditProvider":
        return cls(settings.xendit_secret_key, settings.xendit_callback_token, settings.xendit_base_url,
                   timeouts=settings.timeouts)

    def _call(self, method: str, path: str, *, body: dict | None = None) -> GatewayResponse:
        if not self._secret_key:
            raise ProviderAuthError("Secret key Xendit belum diisi di Pengaturan Pembayaran.")
        return self._client.request(method, path, json=body)

    def create_qr(self, reference: str, amount: int, expires_at: datetime, **_options) -> Charge:
        body = {"reference_id": reference, "type": "DYNAMIC", "currency": "IDR", "amount": int(amount),
                "expires_at": iso_z(expires_at)}
        response = self._call("POST", "/qr_codes", body=body)
        data = response.body or {}
        if response.http_status not in (200, 201):
            raise _gateway_error(response, "pembuatan QR")
        if not data.get("qr_string") or not data.get("id"):
            raise ProviderError("Xendit tidak mengirim QR untuk transaksi ini.", code="provider_bad_response")
        gateway_expiry = parse_iso(data.get("expires_at"))
        effective = min(as_utc(expires_at), gateway_expiry) if gateway_expiry else as_utc(expires_at)
        return Charge(qr_string=data["qr_string"], provider_trx_id=data["id"], expires_at=effective,
                      raw={key: data[key] for key in KEPT_FIELDS if key in data})

    def _succeeded_payment(self, qr_id: str) -> dict | None:
        response = self._call("GET", f"/qr_codes/{segment(qr_id)}/payments")
        if response.http_status != 200:
            raise _gateway_error(response, "cek status")
        body = response.body or {}
        listed = body.get("data", body.get("items", []))
        return next((item for item in listed if isinstance(item, dict) and item.get("status") == "SUCCEEDED"), None)

    def fetch_status(self, payment) -> ProviderStatus:
        if not payment.provider_trx_id:
            return ProviderStatus(status=states.FAILED, raw={"error": "no QR id"})
        paid = self._succeeded_payment(payment.provider_trx_id)
        if paid is not None:
            return ProviderStatus(status=states.PAID, amount=whole_rupiah(paid.get("amount")),
                                  paid_at=parse_iso(paid.get("created")),
                                  ref_no=(paid.get("payment_detail") or {}).get("receipt_id") or paid.get("id"),
                                  raw={"qr_payment_id": paid.get("id"), "status": "SUCCEEDED"})
        response = self._call("GET", f"/qr_codes/{segment(payment.provider_trx_id)}")
        if response.http_status == 404:
            return ProviderStatus(status=states.FAILED, raw={"status": "NOT_FOUND"})
        if response.http_status != 200:
            raise _gateway_error(response, "cek status")
        qr_status = (response.body or {}).get("status")
        status = states.PENDING if qr_status == "ACTIVE" else states.EXPIRED
        return ProviderStatus(status=status, raw={"status": qr_status})

    def cancel(self, payment) -> ProviderStatus:
        # The QR Codes API has no cancel: the QR stays payable until its expires_at, and a payment that still
        # comes is recorded as a late one (DESIGN §3). Report what the gateway knows.
        return self.fetch_status(payment)

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        paid = self._succeeded_payment(payment.provider_trx_id) if payment.provider_trx_id else None
        if paid is None or not paid.get("id"):
            raise ProviderError("Pembayaran QR ini tidak ditemukan di Xendit.", code="refund_refused")
        body = {"reference_id": refund_key, "amount": int(amount), "reason": reason[:255]}
        response = self._call("POST", f"/qr_codes/payments/{segment(paid['id'])}/refunds", body=body)
        data = response.body or {}
        if response.http_status in (200, 201) and data.get("status") in ("PENDING", "SUCCEEDED"):
            return ProviderStatus(status=states.REFUNDED, amount=int(amount),
                                  raw={"refund_id": data.get("id"), "status": data.get("status")})
        error = _gateway_error(response, "refund")
        if isinstance(error, (ProviderAuthError, ProviderUnavailable)):
            raise error
        reason_code = data.get("error_code") or data.get("status") or response.http_status
        raise ProviderError(f"Refund ditolak Xendit ({reason_code}).", code="refund_refused")

    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent:
        received = headers.get(CALLBACK_TOKEN_HEADER, "")
        if not self._callback_token:
            raise WebhookRejected("no Xendit callback token configured")
        if not received or not hmac.compare_digest(received.encode(), self._callback_token.encode()):
            raise WebhookRejected("bad x-callback-token")
        return self._event(read_json_object(raw_body))

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        return self._event(read_json_object(raw_body))

    def _event(self, body: dict) -> WebhookEvent:
        data = body.get("data")
        if not isinstance(data, dict):
            # The retired V1 QR (flat body, status COMPLETED) is not one of ours: we always send api-version.
            raise WebhookIgnored("not a V2 QR callback (no data object)")
        if body.get("event") != "qr.payment":
            raise WebhookIgnored(f"event {str(body.get('event'))[:40]!r} is not a QR payment")
        if data.get("status") != "SUCCEEDED":
            raise WebhookIgnored(f"QR payment status {str(data.get('status'))[:20]!r}")
        event_id, amount = data.get("id"), whole_rupiah(data.get("amount"))
        if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
            raise MalformedWebhook("data.id is required")
        if amount is None:
            raise MalformedWebhook("data.amount must be a positive whole number")
        detail = data.get("payment_detail")
        receipt = detail.get("receipt_id") if isinstance(detail, dict) else None
        return WebhookEvent(event_id=event_id, reference=_text(data.get("reference_id")),
                            provider_trx_id=_text(data.get("qr_id")), status=states.PAID, amount=amount,
                            ref_no=str(receipt or event_id)[:100])

    def fetch_settlement(self, day: date) -> list[SettlementRow]:
        return []  # reconciliation imports Xendit's report CSV

    def test_connection(self) -> ConnectionResult:
        if not self._secret_key:
            return ConnectionResult(ok=False, latency_ms=None, message="Secret key Xendit belum diisi.")
        try:
            response = self._call("GET", f"/qr_codes/qr_kasir-connection-test-{secrets.token_hex(4)}")
        except ProviderError as exc:
            return ConnectionResult(ok=False, latency_ms=None, message=exc.message)
        if response.http_status in (200, 404):  # an unknown QR id answered with the key accepted
            kind = "mode uji" if self._secret_key.startswith("xnd_development_") else "mode live"
            return ConnectionResult(ok=True, latency_ms=response.latency_ms,
                                    message=f"Terhubung ke Xendit ({kind}); secret key diterima "
                                            f"({response.latency_ms} ms).")
        return ConnectionResult(ok=False, latency_ms=response.latency_ms,
                                message=_gateway_error(response, "tes koneksi").message)
