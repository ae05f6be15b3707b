"""Midtrans Core API, QRIS (shared/contracts/midtrans.md): charge, status, cancel, expire, refund, notification.

The body's `status_code` decides every outcome, not the HTTP status. A charge is never retried blindly:
after a network error we ask for the order's status first, and only a 404 there allows one more try.
Notifications are hints: after the signature check the status call decides what is applied.
"""
import hashlib
import hmac
import math
import secrets
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from ...clock import WIB, as_utc, utcnow
from .. import methods, states
from .base import (
    Charge,
    ConnectionResult,
    Provider,
    ProviderAuthError,
    ProviderError,
    ProviderStatus,
    ProviderUnavailable,
    SettlementRow,
    WebhookEvent,
    WebhookRejected,
    read_json_object,
)
from .http import GatewayClient, GatewayResponse, NetworkError, segment

LABEL = "Midtrans"
TRANSACTION_STATES = {
    "settlement": states.PAID, "pending": states.PENDING, "expire": states.EXPIRED, "cancel": states.CANCELLED,
    "deny": states.FAILED, "failure": states.FAILED, "refund": states.REFUNDED,
    # Part of the money went back, the rest is still the shop's: the payment stays PAID (DESIGN §3).
    "partial_refund": states.PAID,
}
REFUND_ACCEPTED = frozenset({"refund", "partial_refund"})
# Fields of a status answer worth keeping in payment_logs (never the QR, never anything secret).
KEPT_FIELDS = ("status_code", "transaction_status", "transaction_id", "fraud_status", "gross_amount",
               "settlement_time", "refund_amount", "acquirer", "payment_type")
# Core API VA banks (payment_type bank_transfer); Mandiri's bill payment is payment_type echannel.
TRANSFER_BANKS = frozenset({"bca", "bni", "bri", "cimb", "permata"})


def parse_amount(value) -> int:
    """Midtrans sends "27500.00": an int of rupiah, or ProviderError for a fraction or garbage."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ProviderError("Nominal dari Midtrans tidak terbaca.", code="provider_bad_response") from None
    if amount != amount.to_integral_value():
        raise ProviderError("Nominal dari Midtrans berisi pecahan rupiah.", code="provider_bad_response")
    return int(amount)


def parse_wib(text: str | None) -> datetime | None:
    """"2026-11-23 14:15:00" is Jakarta time without an offset; stored as UTC (None for anything else)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return as_utc(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=WIB))
    except ValueError:
        return None


def signature(order_id: str, status_code: str, gross_amount: str, server_key: str) -> str:
    return hashlib.sha512(f"{order_id}{status_code}{gross_amount}{server_key}".encode()).hexdigest()


def _gateway_error(code: str, body: dict | None, action: str) -> ProviderError:
    """A refused call as a cashier-readable message and an API error code; nothing from the body is echoed."""
    if code == "401":
        return ProviderAuthError("Server key Midtrans ditolak (401). Periksa kunci di Pengaturan Pembayaran.")
    if code == "406":
        return ProviderError("Order ID ini sudah pernah dipakai di Midtrans. Buat QR baru.", code="duplicate_order_id")
    if code == "400":
        return ProviderError(f"Midtrans menolak data {action} (validasi, kode 400).", code="provider_validation_error")
    if code == "402":
        return ProviderError("Akun Midtrans belum siap untuk QRIS (pengaturan merchant, kode 402). "
                             "Aktifkan QRIS di dashboard Midtrans.", code="provider_merchant_settings")
    if code == "404":
        return ProviderError("Transaksi tidak ditemukan di Midtrans (404).", code="provider_not_found")
    if code == "412":
        return ProviderError(f"Status transaksi di Midtrans tidak bisa diubah ({action}, kode 412).",
                             code="provider_status_locked")
    if code == "429":
        return ProviderUnavailable("Midtrans membatasi permintaan (429). Coba lagi sebentar lagi.",
                                   code="provider_rate_limited")
    if code.startswith("5") or body is None:
        return ProviderUnavailable(f"Midtrans sedang bermasalah (kode {code}). Coba lagi.")
    return ProviderError(f"Midtrans menolak {action} (kode {code}).")


class MidtransProvider(Provider):
    name = "midtrans"
    confirms_events_online = True  # a notification is only a hint: confirm_event asks for the status
    methods = frozenset({methods.QRIS, methods.VA, methods.LINK})

    def __init__(self, server_key: str, base_url: str, *, timeouts: tuple[float, float] = (3, 10),
                 environment: str = "sandbox", acquirer: str = "gopay", snap_base_url: str = ""):
        self._server_key = server_key
        self.environment = environment
        self.acquirer = acquirer
        self._client = GatewayClient(LABEL, base_url, server_key, timeouts=timeouts)
        self._snap = GatewayClient(LABEL, snap_base_url or base_url, server_key, timeouts=timeouts)

    @classmethod
    def from_settings(cls, settings) -> "MidtransProvider":
        return cls(settings.midtrans_server_key, settings.midtrans_base_url, timeouts=settings.timeouts,
                   environment=settings.midtrans_environment, snap_base_url=settings.midtrans_snap_base_url)

    # -- calls ---------------------------------------------------------------------------------
    def _require_key(self) -> None:
        if not self._server_key:
            raise ProviderAuthError("Server key Midtrans belum diisi di Pengaturan Pembayaran.")

    def _call(self, method: str, path: str, *, body: dict | None = None, idempotency_key: str | None = None,
              client: GatewayClient | None = None) -> tuple[str, dict, GatewayResponse]:
        self._require_key()
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        response = (client or self._client).request(method, path, json=body, headers=headers)
        if response.body is None:
            raise _gateway_error(str(response.http_status), None, "permintaan")
        code = str(response.body.get("status_code") or response.http_status)
        if response.http_status >= 400 and not code.startswith(("4", "5")):  # an odd body: trust the HTTP status
            code = str(response.http_status)
        return code, response.body, response

    def _status_call(self, order_id: str) -> tuple[str, dict]:
        code, body, _ = self._call("GET", f"/v2/{segment(order_id)}/status")
        return code, body

    # -- interface -----------------------------------------------------------------------------
    def create_qr(self, reference: str, amount: int, expires_at: datetime, **_options) -> Charge:
        minutes = self._minutes(expires_at)
        body = {
            "payment_type": "qris",
            "transaction_details": {"order_id": reference, "gross_amount": int(amount)},
            "qris": {"acquirer": self.acquirer},
            "custom_expiry": {"expiry_duration": minutes, "unit": "minute"},
        }
        try:
            code, data, _ = self._call("POST", "/v2/charge", body=body, idempotency_key=f"charge-{reference}")
        except NetworkError:
            return self._recover_charge(reference, amount, expires_at, body)
        if code == "201":
            return self._charge_from(data, expires_at)
        if code == "406":  # maybe our own charge whose answer was lost: take it over if it matches exactly
            return self._existing_charge(reference, amount, expires_at)
        raise _gateway_error(code, data, "pembuatan QR")

    def create_charge(self, method: str, reference: str, amount: int, expires_at: datetime, **options) -> Charge:
        """QRIS as create_qr; a VA through the Core API (bank_transfer, or echannel for Mandiri); a link via Snap."""
        if method == methods.VA:
            return self._charge_va(reference, amount, expires_at, options.get("bank") or "")
        if method == methods.LINK:
            return self._charge_link(reference, amount, expires_at)
        return super().create_charge(method, reference, amount, expires_at, **options)

    @staticmethod
    def _minutes(expires_at: datetime) -> int:
        return max(1, math.ceil((as_utc(expires_at) - utcnow()).total_seconds() / 60))

    def _charge_va(self, reference: str, amount: int, expires_at: datetime, bank: str) -> Charge:
        if bank not in TRANSFER_BANKS and bank != "mandiri":
            raise ProviderError("Bank VA ini tidak didukung Midtrans.", code="bank_not_supported")
        body = {"transaction_details": {"order_id": reference, "gross_amount": int(amount)},
                "custom_expiry": {"expiry_duration": self._minutes(expires_at), "unit": "minute"}}
        if bank == "mandiri":
            body.update(payment_type="echannel", echannel={"bill_info1": "Pembayaran", "bill_info2": reference[:18]})
        else:
            body.update(payment_type="bank_transfer", bank_transfer={"bank": bank})
        # No blind retry of a charge (contract): a network error surfaces; the sync job asks for the status.
        code, data, _ = self._call("POST", "/v2/charge", body=body, idempotency_key=f"charge-{reference}")
        if code != "201":
            raise _gateway_error(code, data, "pembuatan VA")
        transaction_id = data.get("transaction_id")
        if bank == "mandiri":
            number, biller_code = data.get("bill_key"), data.get("biller_code")
        elif bank == "permata" and data.get("permata_va_number"):
            number, biller_code = data.get("permata_va_number"), None
        else:
            number = next((item.get("va_number") for item in data.get("va_numbers") or ()
                           if isinstance(item, dict) and item.get("bank") == bank), None)
            biller_code = None
        if not isinstance(number, str) or not number or not transaction_id:
            raise ProviderError("Midtrans tidak mengirim nomor VA untuk transaksi ini.", code="provider_bad_response")
        va = {"bank": bank, "number": number, **({"biller_code": str(biller_code)} if biller_code else {})}
        gateway_expiry = parse_wib(data.get("expiry_time"))
        effective = min(as_utc(expires_at), gateway_expiry) if gateway_expiry else as_utc(expires_at)
        return Charge(qr_string=None, provider_trx_id=transaction_id, expires_at=effective,
                      raw={key: data[key] for key in KEPT_FIELDS + ("expiry_time",) if key in data},
                      instructions={"va": va})

    def _charge_link(self, reference: str, amount: int, expires_at: datetime) -> Charge:
        """A Snap payment page; Midtrans knows no transaction until the customer picks a method there."""
        body = {"transaction_details": {"order_id": reference, "gross_amount": int(amount)},
                "expiry": {"unit": "minutes", "duration": self._minutes(expires_at)}}
        code, data, _ = self._call("POST", "/snap/v1/transactions", body=body, client=self._snap,
                                   idempotency_key=f"charge-{reference}")
        if code not in ("200", "201"):
            raise _gateway_error(code, data, "pembuatan link pembayaran")
        token, url = data.get("token"), data.get("redirect_url")
        if not (isinstance(token, str) and token and isinstance(url, str) and url.startswith(("https://", "http://"))):
            raise ProviderError("Midtrans tidak mengirim link pembayaran.", code="provider_bad_response")
        return Charge(qr_string=None, provider_trx_id=f"snap-{token}"[:100], expires_at=as_utc(expires_at),
                      raw={"token_received": True}, instructions={"payment_url": url})

    def _recover_charge(self, reference: str, amount: int, expires_at: datetime, body: dict) -> Charge:
        """The charge got no answer: look before trying again, so one order never gets two QRs."""
        code, data = self._status_call(reference)
        if code != "404":
            return self._existing_charge(reference, amount, expires_at, status=(code, data))
        code, data, _ = self._call("POST", "/v2/charge", body=body, idempotency_key=f"charge-{reference}")
        if code == "201":
            return self._charge_from(data, expires_at)
        raise _gateway_error(code, data, "pembuatan QR")

    def _existing_charge(self, reference: str, amount: int, expires_at: datetime, *,
                         status: tuple[str, dict] | None = None) -> Charge:
        """Take over the gateway's transaction for this order id only if it is exactly ours: pending, same amount."""
        code, data = status or self._status_call(reference)
        if (code != "404" and data.get("transaction_status") == "pending" and data.get("qr_string")
                and parse_amount(data.get("gross_amount", "0")) == amount):
            return self._charge_from(data, expires_at)
        raise _gateway_error("406", data, "pembuatan QR")

    def _charge_from(self, data: dict, expires_at: datetime) -> Charge:
        qr_string, transaction_id = data.get("qr_string"), data.get("transaction_id")
        if not qr_string or not transaction_id:
            raise ProviderError("Midtrans tidak mengirim QR untuk transaksi ini.", code="provider_bad_response")
        gateway_expiry = parse_wib(data.get("expiry_time"))  # not in every answer
        effective = min(as_utc(expires_at), gateway_expiry) if gateway_expiry else as_utc(expires_at)
        return Charge(qr_string=qr_string, provider_trx_id=transaction_id, expires_at=effective,
                      raw={key: data[key] for key in KEPT_FIELDS + ("expiry_time",) if key in data})

    def _status_from(self, data: dict) -> ProviderStatus:
        transaction_status = data.get("transaction_status", "")
        if not isinstance(transaction_status, str):  # JSON from outside: a list here must not become a crash
            raise ProviderError("Status dari Midtrans tidak dikenal.", code="provider_bad_response")
        if transaction_status == "capture":  # cards only; paid once the fraud check accepts it
            status = states.PAID if data.get("fraud_status") == "accept" else states.PENDING
        elif transaction_status in TRANSACTION_STATES:
            status = TRANSACTION_STATES[transaction_status]
        else:
            raise ProviderError("Status dari Midtrans tidak dikenal.", code="provider_bad_response")
        amount = parse_amount(data["gross_amount"]) if "gross_amount" in data else None
        return ProviderStatus(status=status, amount=amount, paid_at=parse_wib(data.get("settlement_time")),
                              ref_no=None, raw={key: data[key] for key in KEPT_FIELDS if key in data})

    def fetch_status(self, payment) -> ProviderStatus:
        code, data = self._status_call(payment.order_id)
        if code == "404":
            if getattr(payment, "method", methods.QRIS) == methods.LINK:
                # A link's order appears only once the customer picks a method on the page: not paid yet.
                return ProviderStatus(status=states.PENDING, raw={"status_code": "404"})
            return ProviderStatus(status=states.FAILED, raw={"status_code": "404"})  # never heard of: never paid
        if code in ("200", "201", "202", "407"):
            return self._status_from(data)
        raise _gateway_error(code, data, "cek status")

    def _change(self, payment, action: str, label: str) -> ProviderStatus:
        code, data, _ = self._call("POST", f"/v2/{segment(payment.order_id)}/{action}",
                                   idempotency_key=f"{action}-{payment.order_id}")
        if code in ("200", "201", "202", "407"):  # 407: "expired", the success answer of /expire
            return self._status_from(data)
        if code == "412":  # too late to change (often: just settled); the status call says what it is now
            return self.fetch_status(payment)
        if code == "404":
            return ProviderStatus(status=states.CANCELLED if action == "cancel" else states.EXPIRED,
                                  raw={"status_code": "404"})
        raise _gateway_error(code, data, label)

    def cancel(self, payment) -> ProviderStatus:
        return self._change(payment, "cancel", "pembatalan")

    def expire(self, payment) -> ProviderStatus:
        return self._change(payment, "expire", "kedaluwarsa")

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        body = {"refund_key": refund_key, "amount": int(amount), "reason": reason[:255]}
        code, data, _ = self._call("POST", f"/v2/{segment(payment.order_id)}/refund/online/direct", body=body,
                                   idempotency_key=f"refund-{refund_key}")
        if code in ("200", "201"):
            transaction_status = data.get("transaction_status")
            if transaction_status and transaction_status not in REFUND_ACCEPTED:
                raise ProviderError("Refund belum dikonfirmasi Midtrans.", code="refund_refused")
            raw = self._status_from(data).raw if transaction_status else {}
            return ProviderStatus(status=states.REFUNDED, amount=int(amount), raw=raw)
        error = _gateway_error(code, data, "refund")
        if isinstance(error, (ProviderAuthError, ProviderUnavailable)):
            raise error
        raise ProviderError(f"Refund ditolak Midtrans (kode {code}). Refund QRIS bisa perlu diaktifkan oleh "
                            f"Midtrans dan ada batas waktunya.", code="refund_refused")

    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent:
        body = read_json_object(raw_body)
        fields = [body.get(key) for key in ("order_id", "status_code", "gross_amount", "signature_key")]
        if not all(isinstance(value, str) and value for value in fields):
            raise WebhookRejected("missing order_id, status_code, gross_amount or signature_key")
        if not self._server_key:
            raise WebhookRejected("no Midtrans server key configured")
        order_id, status_code, gross_amount, received = fields
        expected = signature(order_id, status_code, gross_amount, self._server_key)
        if not hmac.compare_digest(received.lower().encode(), expected.encode()):
            raise WebhookRejected("bad signature_key")
        return self._event(body)

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        return self._event(read_json_object(raw_body))

    def _event(self, body: dict) -> WebhookEvent:
        # Midtrans sends no event id; one per transaction and state, so a repeated notification is a duplicate.
        transaction_id = str(body.get("transaction_id") or "")
        event_id = f"{transaction_id or body['order_id']}:{body.get('transaction_status', '')}:{body['status_code']}"
        try:
            status = self._status_from(body).status
        except (ProviderError, KeyError):
            status = states.PENDING  # the status call decides anyway
        return WebhookEvent(event_id=event_id[:100], reference=body["order_id"], provider_trx_id=transaction_id or None,
                            status=status, amount=None, ref_no=None)

    def confirm_event(self, payment, event: WebhookEvent) -> WebhookEvent:
        """The notification is a hint; the status call is the truth (contract)."""
        reported = self.fetch_status(payment)
        return replace(event, status=reported.status,
                       amount=reported.amount if reported.status == states.PAID else None,
                       ref_no=reported.ref_no)

    def fetch_settlement(self, day: date) -> list[SettlementRow]:
        return []  # Midtrans has no settlement API for this: reconciliation imports the dashboard CSV

    def test_connection(self) -> ConnectionResult:
        if not self._server_key:
            return ConnectionResult(ok=False, latency_ms=None, message="Server key Midtrans belum diisi.")
        probe = f"kasir-connection-test-{secrets.token_hex(4)}"
        try:
            code, data, response = self._call("GET", f"/v2/{probe}/status")
        except ProviderError as exc:
            return ConnectionResult(ok=False, latency_ms=None, message=exc.message)
        if code in ("404", "200", "201"):  # an unknown order answered with the key accepted
            return ConnectionResult(ok=True, latency_ms=response.latency_ms,
                                    message=f"Terhubung ke Midtrans {self.environment.title()}; server key diterima "
                                            f"({response.latency_ms} ms).")
        return ConnectionResult(ok=False, latency_ms=response.latency_ms,
                                message=_gateway_error(code, data, "tes koneksi").message)
