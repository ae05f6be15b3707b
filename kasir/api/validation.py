"""Input rules of the API (DESIGN §7): what a payment request may contain, checked field by field."""
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..payments import callback_targets, methods, states
from .errors import ApiError

ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,50}")  # the gateways' own limit on a reference
TILL_ORDER_PREFIX = "POS-"  # the till's own order ids (DESIGN §3): an app may not take them first
CURSOR_MAX = 200  # an earlier next_cursor is about 90 characters
DIGITS = re.compile(r"[0-9]{1,15}")
FIELDS = frozenset({"order_id", "amount", "currency", "callback_url", "metadata", "method", "bank"})
METADATA_MAX_BYTES = 4096
CALLBACK_URL_MAX = 500
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
LIST_LIMIT_DEFAULT = 20
LIST_LIMIT_MAX = 100
LIST_PARAMETERS = frozenset({"order_id", "status", "limit", "cursor"})


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: int
    callback_url: str | None
    metadata: dict | None
    method: str = methods.QRIS
    bank: str | None = None  # the VA's bank, for method "va"


def invalid(details: dict[str, str]) -> ApiError:
    return ApiError(422, "validation_error", "the request did not pass validation", details)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes):
    """The parsed body; 400 for anything that is not strict JSON (NaN and Infinity included)."""
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None


def _amount(value, max_amount: int) -> int:
    if isinstance(value, str) and DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= max_amount:
        raise ValueError(f"must be a whole number of rupiah from 1 to {max_amount}")
    return value


def _callback_url(value, allowed_networks: str) -> str:
    if not isinstance(value, str) or len(value) > CALLBACK_URL_MAX or any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError(f"must be an http(s) URL of at most {CALLBACK_URL_MAX} characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValueError("must be an http(s) URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    callback_targets.check_url_host(parts.hostname, allowed_networks)  # TargetRefused is a ValueError
    return value


def _new_order_id(value) -> str:
    """An order id an app may create: the gateways' characters, not only dots (a gateway puts the id in
    its URL path, where "." and ".." mean something else), and not the till's own prefix."""
    if not isinstance(value, str) or not ORDER_ID.fullmatch(value):
        raise ValueError("required: 1-50 characters of A-Z a-z 0-9 . _ : -")
    if not value.strip("."):
        raise ValueError("must not consist of dots only")
    if value.upper().startswith(TILL_ORDER_PREFIX):
        raise ValueError(f"must not start with {TILL_ORDER_PREFIX} (reserved for the till's own payments)")
    return value


def _metadata(value) -> dict:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
    if len(json.dumps(value, ensure_ascii=False).encode()) > METADATA_MAX_BYTES:
        raise ValueError(f"must be at most {METADATA_MAX_BYTES} bytes as JSON")
    return value


def payment_request(body, max_amount: int, allowed_networks: str = "") -> PaymentRequest:
    """Validate a POST /payments body; raises a 422 ApiError naming every bad field. `allowed_networks`:
    CALLBACK_ALLOWED_NETWORKS, the internal hosts a callback_url may name."""
    if not isinstance(body, dict):
        raise invalid({"body": "must be a JSON object"})
    errors = {name: "unknown field" for name in body if name not in FIELDS}
    try:
        _new_order_id(body.get("order_id"))
    except ValueError as exc:
        errors["order_id"] = str(exc)
    amount = callback_url = metadata = None
    try:
        amount = _amount(body.get("amount"), max_amount)
    except ValueError as exc:
        errors["amount"] = str(exc)
    if body.get("currency") not in (None, "IDR"):
        errors["currency"] = "must be IDR"
    try:
        callback_url = (None if body.get("callback_url") is None
                        else _callback_url(body["callback_url"], allowed_networks))
    except ValueError as exc:
        errors["callback_url"] = str(exc)
    try:
        metadata = None if body.get("metadata") is None else _metadata(body["metadata"])
    except ValueError as exc:
        errors["metadata"] = str(exc)
    method, bank = body.get("method", methods.QRIS), body.get("bank")
    if method not in methods.METHODS:
        errors["method"] = f"must be one of {', '.join(methods.METHODS)}"
    elif method == methods.VA and bank not in methods.BANKS:
        errors["bank"] = f"required for method va: one of {', '.join(methods.BANKS)}"
    elif method != methods.VA and bank is not None:
        errors["bank"] = "only for method va"
    if errors:
        raise invalid(errors)
    return PaymentRequest(order_id=body["order_id"], amount=amount, callback_url=callback_url, metadata=metadata,
                          method=method, bank=bank)


def idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise invalid({"Idempotency-Key": "must be 1-255 printable ASCII characters without spaces"})
    return value


def known_parameters(args, allowed: frozenset[str]) -> None:
    """A strict API: a misspelt filter (`?statuss=PAID`) is refused rather than silently ignored."""
    unknown = sorted(set(args) - allowed)
    if unknown:
        raise invalid({name or "(empty name)": "unknown query parameter" for name in unknown[:10]})


def order_filter(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if not ORDER_ID.fullmatch(value):
        raise invalid({"order_id": "1-50 characters of A-Z a-z 0-9 . _ : -"})
    return value


def status_filter(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in states.ALL_STATES:
        raise invalid({"status": f"must be one of {', '.join(states.ALL_STATES)}"})
    return value


def cursor(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if len(value) > CURSOR_MAX:
        raise invalid({"cursor": "not a cursor from an earlier next_cursor"})
    return value


def list_limit(value: str | None) -> int:
    if value is None:
        return LIST_LIMIT_DEFAULT
    if not DIGITS.fullmatch(value) or not 1 <= int(value) <= LIST_LIMIT_MAX:
        raise invalid({"limit": f"must be an integer from 1 to {LIST_LIMIT_MAX}"})
    return int(value)
