"""Bank Indonesia SNAP, QRIS MPM (shared/contracts/snap-bi.md): one base, a small subclass per gateway.

Token: B2B, RSA-SHA256 over "<client id>|<X-TIMESTAMP>", cached until shortly before it expires and fetched
again once when a call answers 401xx01/401xx03. Every other call: HMAC-SHA512 over
"<METHOD>:<path>:<token>:<sha256 hex of the body bytes>:<X-TIMESTAMP>", where the body bytes are serialised
once and sent as they are. X-EXTERNAL-ID is numeric, unique per day, and the same on a retry of one request.
Per-gateway differences (paths, CHANNEL-ID, extras, cancel) are class attributes of the subclasses.
"""
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from ...clock import WIB, as_utc, utcnow
from .. import states
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
from .http import GatewayClient, NetworkError

# latestTransactionStatus -> our state (contract); "07" (not found) can never be paid.
TRANSACTION_STATES = {
    "00": states.PAID, "01": states.PENDING, "02": states.PENDING, "03": states.PENDING, "04": states.REFUNDED,
    "05": states.CANCELLED, "06": states.FAILED, "07": states.FAILED, "08": states.EXPIRED, "09": states.FAILED,
}
TOKEN_RETRY_CASES = ("01", "03")  # 401xx01 invalid token, 401xx03 token expired: fetch a new one, once
TOKEN_MARGIN_SECONDS = 60  # a cached token is dropped this long before the gateway says it expires
KEPT_FIELDS = ("responseCode", "latestTransactionStatus", "originalReferenceNo", "referenceNo", "paidTime",
               "refundNo", "transactionStatusDesc")


def snap_timestamp(moment: datetime | None = None) -> str:
    """X-TIMESTAMP: ISO-8601 in WIB, written from an aware clock as +07:00 ("2026-12-06T08:15:00+07:00")."""
    return as_utc(moment or utcnow()).astimezone(WIB).isoformat(timespec="seconds")


def snap_amount(amount: int) -> dict:
    return {"value": f"{int(amount)}.00", "currency": "IDR"}


def parse_amount(value) -> int | None:
    """{"value": "15000.00"} as integer rupiah; None when absent, ProviderError for a fraction or garbage."""
    if isinstance(value, dict):
        value = value.get("value")
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ProviderError("Nominal dari gateway tidak terbaca.", code="provider_bad_response") from None
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ProviderError("Nominal dari gateway berisi pecahan rupiah.", code="provider_bad_response")
    return int(amount)


def parse_time(text) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=WIB))


def load_private_key(pem: str | bytes):
    return serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)


def load_public_key(pem: str | bytes):
    return serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)


def rsa_sign(private_key, text: str) -> str:
    return base64.b64encode(private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key, text: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), text.encode(), padding.PKCS1v15(),
                          hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def hmac_signature(secret: str, method: str, path: str, token: str, body: bytes, timestamp: str) -> str:
    digest = hashlib.sha256(body).hexdigest().lower()
    text = f"{method.upper()}:{path}:{token}:{digest}:{timestamp}"
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha512).digest()).decode()


def minified(body: dict) -> bytes:
    """The one serialisation of a request body: these exact bytes are hashed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# Tokens outlive a provider object (get_provider builds one per use): one per gateway URL, client and key.
_tokens: dict[tuple, tuple[str, float]] = {}
_tokens_lock = threading.Lock()
_external_lock = threading.Lock()
_external_last = [0]


def forget_tokens() -> None:
    """Drop every cached access token (keys changed in admin; tests start clean)."""
    with _tokens_lock:
        _tokens.clear()


def new_external_id() -> str:
    """A numeric X-EXTERNAL-ID, unique per day in this process: the time in microseconds plus random digits."""
    with _external_lock:
        micros = max(time.time_ns() // 1000, _external_last[0] + 1)
        _external_last[0] = micros
    return f"{micros}{secrets.randbelow(10 ** 6):06d}"


class SnapProvider(Provider):
    """QRIS MPM over SNAP; subclasses set the per-gateway table of the contract as class attributes."""
    label = "SNAP"
    confirms_events_online = True  # a notification is a hint: the query decides
    token_path = "/v1.0/access-token/b2b"
    token_extra: dict = {}
    qr_prefix = ""
    signature_path_strip = ""  # a leading part of the URL path left out of the HMAC string
    cancel_path: str | None = None
    notify_path = ""  # our notification path, as the gateway signs it (DOKU)
    # How a notification proves itself: "hmac" (Bearer token we issued + HMAC-SHA512 over the body, DOKU) or
    # "rsa" (RSA-SHA256 over "<client id>|<X-TIMESTAMP>" with the gateway's notification key, NICEPAY).
    notification_auth = "rsa"
    notification_token_seconds = 900

    def __init__(self, *, client_id: str, client_secret: str, private_key_pem: str, base_url: str,
                 merchant_id: str = "", terminal_id: str = "", channel_id: str = "", public_key_pem: str = "",
                 timeouts: tuple[float, float] = (3, 10), environment: str = "sandbox"):
        self.client_id = client_id
        self._secret = client_secret
        self._private_pem = private_key_pem
        self._public_pem = public_key_pem
        self.merchant_id = merchant_id
        self.terminal_id = terminal_id
        self._channel_id = channel_id
        self.environment = environment
        self._client = GatewayClient(self.label, base_url, client_secret or client_id or "-", timeouts=timeouts,
                                     basic_auth=False)
        self._base_path = base_url.split("://", 1)[-1].partition("/")[2]
        self._base_path = "/" + self._base_path.strip("/") if self._base_path.strip("/") else ""
        self._token_key = (base_url, client_id, hashlib.sha256(f"{client_secret}|{private_key_pem}".encode()).digest())

    @property
    def channel_id(self) -> str:
        return self._channel_id

    # -- token ---------------------------------------------------------------------------------
    def _require_keys(self) -> None:
        if not (self.client_id and self._secret and self._private_pem):
            raise ProviderAuthError(f"Client ID, secret atau private key {self.label} belum diisi.")

    def _fetch_token(self) -> tuple[str, float]:
        self._require_keys()
        try:
            key = load_private_key(self._private_pem)
        except (ValueError, TypeError):
            raise ProviderAuthError(f"Private key {self.label} tidak terbaca (PEM RSA).") from None
        timestamp = snap_timestamp()
        headers = {"X-CLIENT-KEY": self.client_id, "X-TIMESTAMP": timestamp,
                   "X-SIGNATURE": rsa_sign(key, f"{self.client_id}|{timestamp}")}
        body = minified({"grantType": "client_credentials", **self.token_extra})
        response = self._client.request("POST", self.token_path, data=body, headers=headers)
        data = response.body or {}
        token = data.get("accessToken")
        if str(data.get("responseCode", "")).startswith("2") and isinstance(token, str) and token:
            try:
                lifetime = float(data.get("expiresIn") or 900)  # a number on some gateways, "900" on others
            except (TypeError, ValueError):
                lifetime = 900
            return token, time.monotonic() + max(0.0, lifetime - TOKEN_MARGIN_SECONDS)
        if response.http_status >= 500 or response.body is None:
            raise ProviderUnavailable(f"{self.label} sedang bermasalah (token, HTTP {response.http_status}).")
        raise ProviderAuthError(f"{self.label} menolak kunci kita (token, kode {data.get('responseCode', '?')}).")

    def _access_token(self, *, renew: bool = False) -> str:
        with _tokens_lock:
            cached = _tokens.get(self._token_key)
            if renew or cached is None or time.monotonic() >= cached[1]:
                cached = _tokens[self._token_key] = self._fetch_token()
            return cached[0]

    # -- signed calls --------------------------------------------------------------------------
    def _signed_path(self, path: str) -> str:
        full = self._base_path + path
        if self.signature_path_strip and full.startswith(self.signature_path_strip):
            full = full[len(self.signature_path_strip):]
        return full

    def _call(self, op: str, body: dict, *, path: str | None = None, external_id: str | None = None,
              read: bool = False) -> tuple[str, dict]:
        """POST one operation; the body is serialised once. The same X-EXTERNAL-ID goes with every try of it:
        after an expired token (once) and, for a read, after a dropped answer (once)."""
        path = path or f"{self.qr_prefix}/v1.0/qr/{op}"
        payload = minified(body)
        external_id = external_id or new_external_id()
        renewed = retried = False
        while True:
            token = self._access_token(renew=renewed and not retried)
            timestamp = snap_timestamp()
            headers = {
                "Authorization": f"Bearer {token}", "X-TIMESTAMP": timestamp, "X-PARTNER-ID": self.client_id,
                "X-EXTERNAL-ID": external_id, "CHANNEL-ID": self.channel_id,
                "X-SIGNATURE": hmac_signature(self._secret, "POST", self._signed_path(path), token, payload,
                                              timestamp),
            }
            try:
                response = self._client.request("POST", path, data=payload, headers=headers)
            except NetworkError:
                if read and not retried:
                    retried = True
                    continue
                raise
            data = response.body or {}
            code = str(data.get("responseCode") or f"{response.http_status}0000")
            if code.startswith("401") and code[-2:] in TOKEN_RETRY_CASES and not renewed:
                renewed = True
                continue
            return code, data

    def _error(self, code: str, action: str) -> ProviderError:
        http, case = code[:3], code[-2:]
        if http == "401":
            return ProviderAuthError(f"{self.label} menolak tanda tangan/kunci kita ({action}, kode {code}).")
        if http == "404":
            return ProviderError(f"Transaksi tidak ditemukan di {self.label} ({code}).", code="provider_not_found")
        if http == "409":
            return ProviderError(f"{self.label}: nomor referensi sudah dipakai ({code}).",
                                 code="duplicate_order_id" if case == "01" else "provider_duplicate_request")
        if http == "400":
            return ProviderError(f"{self.label} menolak data {action} (validasi, kode {code}).",
                                 code="provider_validation_error")
        if http == "429":
            return ProviderUnavailable(f"{self.label} membatasi permintaan ({code}).", code="provider_rate_limited")
        if http.startswith("5"):
            return ProviderUnavailable(f"{self.label} sedang bermasalah (kode {code}). Coba lagi.")
        return ProviderError(f"{self.label} menolak {action} (kode {code}).")

    # -- bodies: subclasses add their extras ---------------------------------------------------
    def generate_extras(self, reference: str, amount: int) -> dict:
        return {}

    def refund_extras(self, payment) -> dict:
        return {}

    def _original(self, payment) -> dict:
        return {"originalPartnerReferenceNo": payment.order_id,
                "originalReferenceNo": payment.provider_trx_id or "", "merchantId": self.merchant_id}

    # -- interface -----------------------------------------------------------------------------
    def create_qr(self, reference: str, amount: int, expires_at: datetime, **_options) -> Charge:
        body = {"partnerReferenceNo": reference, "amount": snap_amount(amount), "merchantId": self.merchant_id,
                "validityPeriod": snap_timestamp(expires_at), "additionalInfo": {}}
        extras = self.generate_extras(reference, amount)
        body["additionalInfo"].update(extras.pop("additionalInfo", {}))
        body.update(extras)
        code, data = self._call("qr-mpm-generate", body)
        if not code.startswith("200"):
            raise self._error(code, "pembuatan QR")
        qr_content, reference_no = data.get("qrContent"), data.get("referenceNo")
        if not isinstance(qr_content, str) or not qr_content or not reference_no:
            raise ProviderError(f"{self.label} tidak mengirim QR untuk transaksi ini.", code="provider_bad_response")
        return Charge(qr_string=qr_content, provider_trx_id=str(reference_no), expires_at=as_utc(expires_at),
                      raw={key: data[key] for key in KEPT_FIELDS if key in data})

    def _query(self, payment) -> tuple[str, dict]:
        return self._call("qr-mpm-query", {**self._original(payment), "serviceCode": "47"}, read=True)

    def _status_from(self, data: dict) -> ProviderStatus:
        latest = data.get("latestTransactionStatus")
        if not isinstance(latest, str) or latest not in TRANSACTION_STATES:
            raise ProviderError(f"Status dari {self.label} tidak dikenal.", code="provider_bad_response")
        status = TRANSACTION_STATES[latest]
        info = data.get("additionalInfo") if isinstance(data.get("additionalInfo"), dict) else {}
        raw = {key: data[key] for key in KEPT_FIELDS if key in data}
        if isinstance(info.get("approvalCode"), str):
            raw["approvalCode"] = info["approvalCode"]
        return ProviderStatus(status=status, amount=parse_amount(data.get("amount")),
                              paid_at=parse_time(data.get("paidTime")) if status == states.PAID else None,
                              ref_no=raw.get("approvalCode"), raw=raw)

    def fetch_status(self, payment) -> ProviderStatus:
        code, data = self._query(payment)
        if code.startswith("404"):
            return ProviderStatus(status=states.FAILED, raw={"responseCode": code})
        if not code.startswith("200"):
            raise self._error(code, "cek status")
        return self._status_from(data)

    def cancel(self, payment) -> ProviderStatus:
        if not self.cancel_path:  # no unpaid-QR cancel: the short validityPeriod ends it; say what it is now
            current = self.fetch_status(payment)
            if current.status == states.PENDING:
                return ProviderStatus(status=states.CANCELLED, raw={**current.raw, "cancel": "local"})
            return current
        code, data = self._call("", {**self._original(payment), "reason": "Dibatalkan kasir"},
                                path=self.qr_prefix + self.cancel_path)
        if code.startswith("200"):
            return ProviderStatus(status=states.CANCELLED, raw={key: data[key] for key in KEPT_FIELDS if key in data})
        if code.startswith(("404", "409", "403")):  # too late or unknown: the query says what it is now
            return self.fetch_status(payment)
        raise self._error(code, "pembatalan")

    def expire(self, payment) -> ProviderStatus:
        """A QR whose time is up: stopped as a cancel would stop it, and reported EXPIRED (unless paid)."""
        result = self.cancel(payment)
        return replace(result, status=states.EXPIRED) if result.status == states.CANCELLED else result

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        body = {**self._original(payment), "partnerRefundNo": refund_key[:64], "refundAmount": snap_amount(amount),
                "reason": reason[:255] or "Refund"}
        body.update(self.refund_extras(payment))
        code, data = self._call("qr-mpm-refund", body)
        if code.startswith("200"):
            return ProviderStatus(status=states.REFUNDED, amount=int(amount),
                                  raw={key: data[key] for key in KEPT_FIELDS if key in data})
        error = self._error(code, "refund")
        if isinstance(error, (ProviderAuthError, ProviderUnavailable)):
            raise error
        raise ProviderError(f"Refund ditolak {self.label} (kode {code}).", code="refund_refused")

    # -- notifications -------------------------------------------------------------------------
    def _public_key(self):
        if not self._public_pem:
            raise WebhookRejected(f"no {self.label} public key configured")
        try:
            return load_public_key(self._public_pem)
        except (ValueError, TypeError):
            raise WebhookRejected(f"{self.label} public key unreadable") from None

    def verify_client_signature(self, headers) -> None:
        """X-SIGNATURE = RSA-SHA256 over "<X-CLIENT-KEY>|<X-TIMESTAMP>" with the gateway's public key."""
        client_key, timestamp = headers.get("X-CLIENT-KEY", ""), headers.get("X-TIMESTAMP", "")
        if client_key != self.client_id or not timestamp:
            raise WebhookRejected("unknown X-CLIENT-KEY or no X-TIMESTAMP")
        if not rsa_verify(self._public_key(), f"{client_key}|{timestamp}", headers.get("X-SIGNATURE", "")):
            raise WebhookRejected("bad X-SIGNATURE")

    def _notification_token_mac(self, expires: str) -> str:
        return hmac.new(self._secret.encode(), f"snap-notification-token|{expires}".encode(),
                        hashlib.sha256).hexdigest()

    def issue_notification_token(self, headers) -> dict:
        """The gateway's token request to us (DOKU): its RSA signature checked, a token it then posts with.
        Stateless (expiry + MAC with our client secret), so every worker process accepts it."""
        self.verify_client_signature(headers)
        expires = str(int(time.time()) + self.notification_token_seconds)
        return {"responseCode": "2007300", "responseMessage": "Successful", "tokenType": "Bearer",
                "accessToken": f"{expires}.{self._notification_token_mac(expires)}",
                "expiresIn": str(self.notification_token_seconds)}

    def _verify_notification_hmac(self, headers, raw_body: bytes) -> None:
        token = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        expires, _, mac = token.partition(".")
        if (not self._secret or not expires.isdigit() or int(expires) < time.time()
                or not hmac.compare_digest(mac, self._notification_token_mac(expires))):
            raise WebhookRejected("unknown or expired notification token")
        expected = hmac_signature(self._secret, "POST", self.notify_path, token, raw_body,
                                  headers.get("X-TIMESTAMP", ""))
        if not headers.get("X-TIMESTAMP") or not hmac.compare_digest(expected, headers.get("X-SIGNATURE", "")):
            raise WebhookRejected("bad X-SIGNATURE")

    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent:
        """Verified as the contract says for this gateway; the event is then only a hint (confirm_event)."""
        if self.notification_auth == "hmac":
            self._verify_notification_hmac(headers, raw_body)
        else:
            self.verify_client_signature(headers)
        return self._event(read_json_object(raw_body))

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        return self._event(read_json_object(raw_body))

    def _event(self, body: dict) -> WebhookEvent:
        reference = body.get("originalPartnerReferenceNo")
        trx = body.get("originalReferenceNo")
        if not isinstance(reference, str) or not reference:
            raise WebhookRejected("no originalPartnerReferenceNo")
        latest = body.get("latestTransactionStatus")
        status = TRANSACTION_STATES.get(latest, states.PENDING) if isinstance(latest, str) else states.PENDING
        event_id = f"{trx or reference}:{latest or ''}"
        return WebhookEvent(event_id=event_id[:100], reference=reference,
                            provider_trx_id=str(trx) if trx else None, status=status, amount=None, ref_no=None)

    def confirm_event(self, payment, event: WebhookEvent) -> WebhookEvent:
        """The notification is a hint; the query is the truth (contract)."""
        reported = self.fetch_status(payment)
        return replace(event, status=reported.status,
                       amount=reported.amount if reported.status == states.PAID else None, ref_no=reported.ref_no)

    def fetch_settlement(self, day: date) -> list[SettlementRow]:
        return []  # SNAP QRIS has no settlement report call: reconciliation imports the dashboard CSV

    def test_connection(self) -> ConnectionResult:
        started = time.monotonic()
        try:
            self._access_token(renew=True)
        except ProviderError as exc:
            return ConnectionResult(ok=False, latency_ms=None, message=exc.message)
        latency_ms = int((time.monotonic() - started) * 1000)
        return ConnectionResult(ok=True, latency_ms=latency_ms,
                                message=f"Terhubung ke {self.label} {self.environment.title()}; token diterima "
                                        f"({latency_ms} ms).")
