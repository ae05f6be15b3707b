"""The generic signed webhook format of /webhooks/qris (DESIGN §7): HMAC-SHA256 over the raw body.

The mock gateway speaks it (and the /simulator sends it), so it lives with the providers."""
import hashlib
import hmac
import time
from collections.abc import Mapping

from .. import states
from .base import MalformedWebhook, WebhookEvent, read_json_object

STATUSES = {"SUCCESS": states.PAID, "FAILED": states.FAILED, "EXPIRED": states.EXPIRED}

SIGNATURE_HEADER = "X-Signature"
EVENT_ID_HEADER = "X-Event-Id"
TIMESTAMP_HEADER = "X-Timestamp"


class SignatureError(Exception):
    """Why a delivery failed verification (for our logs; the sender only sees 401)."""


def sign(secret: str, raw_body: bytes) -> str:
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, raw_body: bytes, event_id: str, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(secret, raw_body),
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(int(time.time()) if timestamp is None else timestamp),
    }


def verify(headers: Mapping[str, str], raw_body: bytes, secret: str, *, tolerance: int = 300,
           now: float | None = None) -> str:
    """Check signature and timestamp window; return the event id."""
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise SignatureError("missing signature")
    if not hmac.compare_digest(signature.lower(), sign(secret, raw_body)):
        raise SignatureError("bad signature")
    try:
        timestamp = int(headers.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        raise SignatureError("missing or malformed timestamp") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureError("timestamp outside the allowed window")
    event_id = headers.get(EVENT_ID_HEADER, "").strip()
    if not event_id or len(event_id) > 100:
        raise SignatureError("missing or overlong event id")
    return event_id


def parse_body(event_id: str, raw_body: bytes) -> WebhookEvent:
    body = read_json_object(raw_body)
    status = STATUSES.get(body["status"]) if isinstance(body.get("status"), str) else None
    amount = body.get("amount")
    if status is None:
        raise MalformedWebhook("status must be SUCCESS, FAILED or EXPIRED")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise MalformedWebhook("amount must be a positive integer")
    order_id, trx_id = body.get("order_id"), body.get("trx_id")
    if not (isinstance(order_id, str) and order_id) and not (isinstance(trx_id, str) and trx_id):
        raise MalformedWebhook("order_id or trx_id is required")
    ref_no = body.get("ref_no")
    return WebhookEvent(event_id=event_id, reference=order_id if isinstance(order_id, str) else None,
                        provider_trx_id=trx_id if isinstance(trx_id, str) else None, status=status, amount=amount,
                        ref_no=str(ref_no)[:100] if ref_no is not None else None)
