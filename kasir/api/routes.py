"""`/payments`: the JSON API other apps of the shop use to take QRIS payments (DESIGN §7).

Routes parse, authenticate and answer; the rules live in kasir.payments.service and the helpers here.
"""
import base64
import binascii
import json
from datetime import datetime

from flask import Blueprint, current_app, g, jsonify, make_response, request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..database import write_transaction
from ..extensions import csrf, db, limiter
from ..logging_setup import log_at_debug
from ..payments import charges, states, sync
from ..payments.gateway_settings import active_provider_name
from ..payments.models import Payment
from ..payments.providers import provider_class
from ..payments.providers.base import ProviderError, ProviderUnavailable
from ..payments.serialization import PAYMENT_COLUMNS, payment_json
from ..poll_cache import first_row
from . import idempotency, keys, validation
from .errors import ApiError

bp = Blueprint("api", __name__, url_prefix="/payments")
csrf.exempt(bp)  # bearer tokens, not cookies: there is no cross-site form to forge

REPLAYED_HEADER = "Idempotent-Replayed"


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return error.response()


def bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@bp.before_request
def authenticate():
    if request.method == "OPTIONS":  # a CORS preflight carries no credentials
        return None
    limit = current_app.config["API_MAX_BODY_BYTES"]
    if (request.content_length or 0) > limit:
        raise ApiError(413, "payload_too_large", f"the body must be at most {limit} bytes")
    request.max_content_length = limit  # also bounds a chunked body without Content-Length
    token = bearer_token(request)
    key = keys.authenticate(token) if token else None
    if key is None:
        raise ApiError(401, "unauthorized", "send a valid API key as 'Authorization: Bearer <token>'",
                       headers={"WWW-Authenticate": 'Bearer realm="kasir"'})
    g.api_key_id, g.api_key_prefix = key.id, key.prefix


def json_body(*, required: bool):
    """The request's JSON; 415 unless it is sent as application/json, 400 when it does not parse."""
    raw = request.get_data(cache=True)
    if not raw and not required:
        return None
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as Content-Type: application/json")
    return validation.parse_json(raw)


def own_payment(payment_id: str) -> Payment:
    payment = db.session.get(Payment, payment_id) if len(payment_id) <= 36 else None
    if payment is None or payment.api_key_id != g.api_key_id:
        raise ApiError(404, "not_found", "no payment with this id")
    return payment


def _order_conflict(exc: charges.OrderConflict) -> ApiError:
    details = {"payment_id": exc.payment.id, "status": exc.payment.status} \
        if exc.payment.api_key_id == g.api_key_id else {}
    return ApiError(409, exc.code, exc.message, details)


def _provider_refusal(exc: ProviderError) -> ApiError:
    if isinstance(exc, ProviderUnavailable):
        return ApiError(503, "provider_unavailable", "the payment provider cannot be reached; the payment FAILED",
                        {"provider_message": exc.message})
    return ApiError(502, "provider_error", "the payment provider refused the charge; the payment FAILED",
                    {"provider_message": exc.message})


def _payment_request(body, provider_name: str | None = None) -> validation.PaymentRequest:
    """The request's payment, checked; `provider_name` when the caller has read the active provider already."""
    wanted = validation.payment_request(body, current_app.config["QRIS_MAX_AMOUNT"],
                                        current_app.config["CALLBACK_ALLOWED_NETWORKS"])
    if wanted.method not in provider_class(provider_name or active_provider_name()).methods:
        raise ApiError(422, "method_not_supported", f"the payment provider does not offer method {wanted.method}",
                       {"method": wanted.method})
    return wanted


def _create(body) -> tuple[int, dict]:
    wanted = _payment_request(body)
    try:
        payment, created = charges.create_api_payment(
            api_key_id=g.api_key_id, order_id=wanted.order_id, amount=wanted.amount,
            callback_url=wanted.callback_url, metadata=wanted.metadata, method=wanted.method, bank=wanted.bank)
    except charges.OrderConflict as exc:
        raise _order_conflict(exc) from None
    except ProviderError as exc:
        raise _provider_refusal(exc) from None
    return (201 if created else 200), payment_json(payment)


def _json_text(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _replay(claim: idempotency.Claim):
    response = make_response(claim.body, claim.status)
    response.mimetype = "application/json"
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _answer(status: int, text: str):
    response = make_response(text, status)
    response.mimetype = "application/json"
    return response


def _create_keyed(body, key: str):
    """POST /payments with an Idempotency-Key. A repeat reads the stored answer without the write lock.
    A new payment is claimed with its key, charged and answered in one commit when the provider charges
    locally. A gateway on the network is asked between two commits: the claim with the CREATED payment
    (so that a concurrent identical request finds the claim, and a crash leaves a charge to resume), and
    the PENDING payment with the stored answer. Any answer, a refusal too, is stored."""
    request_hash = idempotency.fingerprint(request.method, request.path, body)
    abandoned_before = charges.abandoned_before()
    earlier = idempotency.replay(g.api_key_id, key, request_hash, abandoned_before=abandoned_before)
    if earlier is not None:
        return _replay(earlier)
    try:
        with write_transaction():
            opened = _claim_and_open(body, key, request_hash, abandoned_before, active_provider_name())
    except IntegrityError:  # PostgreSQL: a concurrent request took this order_id first; nothing of ours was kept
        wanted = _payment_request(body)
        try:
            payment = charges.repeated_order(api_key_id=g.api_key_id, order_id=wanted.order_id, amount=wanted.amount)
        except charges.OrderConflict as exc:
            raise _order_conflict(exc) from None
        return jsonify(payment_json(payment)), 200
    if isinstance(opened, tuple):  # a gateway on the network charges it, outside any transaction
        claim, payment = opened
        try:
            return _charge_and_store(claim, payment)
        except BaseException:
            idempotency.release(claim)  # the claim is committed: free the key for the client's retry
            raise
    return opened


def _claim_and_open(body, key: str, request_hash: str, abandoned_before: datetime, provider_name: str):
    """In one write transaction: claim the key and open the payment. The answer when it is given here (a
    replay, a refusal, a repeated order, a payment its provider charges locally), else (claim, payment)."""
    claim = idempotency.claim(g.api_key_id, key, request_hash, abandoned_before=abandoned_before)
    if claim.record is None:
        return _replay(claim)
    try:
        wanted = _payment_request(body, provider_name)
        payment, created = charges.open_api_payment(
            api_key_id=g.api_key_id, order_id=wanted.order_id, amount=wanted.amount,
            callback_url=wanted.callback_url, metadata=wanted.metadata, provider_name=provider_name,
            method=wanted.method, bank=wanted.bank)
    except charges.OrderConflict as exc:
        return _store(claim, *_refusal(_order_conflict(exc)))
    except ApiError as exc:
        return _store(claim, *_refusal(exc))
    if not created:
        return _store(claim, 200, _json_text(payment_json(payment)))
    if not charges.charges_online(provider_name):
        return _charge_and_store(claim, payment)
    return claim, payment


def _charge_and_store(claim: idempotency.Claim, payment):
    """Charge the CREATED payment and keep the answer for the claim's key, a refusal too (in the
    caller's write transaction, if any)."""
    try:
        charge = charges.ask_for_qr(payment)
    except ProviderError as exc:
        return _store(claim, *_refusal(_provider_refusal(exc)))
    with write_transaction():
        payment = charges.apply_charge(payment, charge)
        return _store(claim, 201, _json_text(payment_json(payment)))


def _refusal(error: ApiError) -> tuple[int, str]:
    return error.status, _json_text(error.body())


def _store(claim: idempotency.Claim, status: int, text: str):
    """Keep the answer for the claim's key (in the caller's transaction, if any) and send it."""
    idempotency.finish(claim, status, text)
    return _answer(status, text)


@bp.route("", methods=["POST"])
@limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], methods=["POST"])
def create_payment():
    body = json_body(required=True)
    key = validation.idempotency_key(request.headers.get("Idempotency-Key"))
    if key is None:
        status, payload = _create(body)
        return jsonify(payload), status
    return _create_keyed(body, key)


# payment_json's columns in one select, without building a Payment object. Built once.
_OWN_PAYMENT = select(*(column.label(name) for name, column in PAYMENT_COLUMNS.items())) \
    .where(Payment.id == bindparam("payment_id"), Payment.api_key_id == bindparam("api_key_id"))


@bp.route("/<payment_id>", methods=["GET"])
@limiter.exempt
def get_payment(payment_id):
    """An app polls this while its customer pays: one select, and a DEBUG log line."""
    payment = first_row(_OWN_PAYMENT, payment_id=payment_id, api_key_id=g.api_key_id)
    if payment is None:
        raise ApiError(404, "not_found", "no payment with this id")
    log_at_debug()
    return jsonify(payment_json(payment))


def _encode_cursor(payment: Payment) -> str:
    raw = json.dumps([payment.created_at.isoformat(), payment.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, payment_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created_at), str(payment_id)
    except (ValueError, TypeError, RecursionError, binascii.Error, UnicodeDecodeError):
        raise validation.invalid({"cursor": "not a cursor from an earlier next_cursor"}) from None


@bp.route("", methods=["GET"])
def list_payments():
    args = request.args
    validation.known_parameters(args, validation.LIST_PARAMETERS)
    limit = validation.list_limit(args.get("limit"))
    status = validation.status_filter(args.get("status"))
    order_id = validation.order_filter(args.get("order_id"))
    cursor = validation.cursor(args.get("cursor"))
    query = db.select(Payment).where(Payment.api_key_id == g.api_key_id)
    if order_id:
        query = query.where(Payment.order_id == order_id)
    if status:
        query = query.where(Payment.status == status)
    if cursor:
        created_at, payment_id = _decode_cursor(cursor)
        query = query.where((Payment.created_at < created_at)
                            | ((Payment.created_at == created_at) & (Payment.id < payment_id)))
    rows = db.session.scalars(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)).all()
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(rows) > limit else None
    return jsonify(items=[payment_json(payment) for payment in page], next_cursor=next_cursor)


@bp.route("/<payment_id>/cancel", methods=["POST"])
def cancel_payment(payment_id):
    json_body(required=False)  # no fields yet, but a body must still be JSON
    payment = own_payment(payment_id)
    if payment.status == states.PENDING:
        payment = sync.cancel(payment, source="api").payment
        audit.record("CancelPayment", payment.order_id, actor=f"api:{g.api_key_prefix}",
                     outcome=payment.status.lower())
        db.session.commit()
    if payment.status == states.PAID:
        raise ApiError(409, "already_paid", "the payment is already paid", {"payment": payment_json(payment)})
    if payment.status != states.CANCELLED:
        raise ApiError(409, "not_cancellable", f"a {payment.status} payment cannot be cancelled",
                       {"status": payment.status})
    return jsonify(payment_json(payment))
