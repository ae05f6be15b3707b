"""Outbound callbacks (DESIGN §7): an outbox row written with the state change, delivered later by a job.

A callback is never sent inside the request that changed the payment: `enqueue` only adds a row to the
caller's transaction, and `deliver_due` (a background job on its own thread, kasir.jobs) posts it, signed,
with exponential backoff, one at a time, each call within CALLBACK_DEADLINE_SECONDS and only to an
address callbacks may reach (kasir.api.callback_transport, kasir.api.callback_targets). An attempt's
error is stored as a short code (ERROR_* in kasir.api.models), never the exception's text: the admin
page shows it in words, without addresses or ports.
"""
import hashlib
import hmac
import http.client
import json
import logging
import time
from datetime import timedelta

from flask import current_app

from .. import claims
from ..clock import utcnow
from ..database import RawWrite, write_transaction
from ..extensions import db
from ..payments import states
from . import callback_transport
from .callback_targets import TargetRefused
from .models import ERROR_REFUSED_TARGET, ERROR_TIMEOUT, ERROR_UNREACHABLE, Callback
from .serialization import payment_json

log = logging.getLogger(__name__)

NOTIFIED_STATES = frozenset({states.PAID, states.EXPIRED, states.CANCELLED, states.FAILED, states.REFUNDED})
SIGNATURE_HEADER = "X-Callback-Signature"
ID_HEADER = "X-Callback-Id"
TIMESTAMP_HEADER = "X-Timestamp"
# The wait after each failed attempt; the last attempt lands about 24 h after the first.
BACKOFF = tuple(timedelta(seconds=seconds) for seconds in (10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800))
# A claimed row is hidden from other workers this long, so a crash mid-delivery only delays it. Rows are
# claimed one at a time, each sent within CALLBACK_DEADLINE_SECONDS, well inside the lease.
CLAIM_LEASE = timedelta(minutes=2)


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify(key: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(key, body), signature or "")


_INSERT = RawWrite(db.insert(Callback.__table__))


def enqueue(payment) -> None:
    """Add the callback for the payment's new state (a Payment or a row) to the current write transaction
    (if it has a callback_url)."""
    if not payment.callback_url or payment.status not in NOTIFIED_STATES:
        return
    event = f"payment.{payment.status.lower()}"
    body = json.dumps({"event": event, "payment": payment_json(payment)}, separators=(",", ":"))
    _INSERT.execute(payment_id=payment.id, url=payment.callback_url, event=event, body=body, next_attempt_at=utcnow())


def _claim_next() -> list[int]:
    """The next due callback, leased to this run (its id, or none)."""
    now = utcnow()

    def lease(callback: Callback) -> None:
        callback.next_attempt_at = now + CLAIM_LEASE

    return claims.claim(db.select(Callback).where(Callback.delivered_at.is_(None), Callback.next_attempt_at <= now)
                        .order_by(Callback.next_attempt_at).limit(1), lease)


def send(callback: Callback) -> tuple[int | None, str | None]:
    """POST one callback; returns (HTTP status, error code) of the attempt."""
    config = current_app.config
    body = callback.body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Kasir-Callback/1",
               SIGNATURE_HEADER: sign(config["CALLBACK_SIGNING_KEY"], body),
               ID_HEADER: str(callback.id), TIMESTAMP_HEADER: str(int(time.time()))}
    try:
        status = callback_transport.post(callback.url, body, headers,
                                         allowed_networks=config["CALLBACK_ALLOWED_NETWORKS"],
                                         connect_timeout=config["CALLBACK_CONNECT_TIMEOUT"],
                                         deadline_seconds=config["CALLBACK_DEADLINE_SECONDS"])
    except TargetRefused:
        return None, ERROR_REFUSED_TARGET
    except TimeoutError:  # the deadline, or a connect that timed out
        return None, ERROR_TIMEOUT
    except (OSError, http.client.HTTPException, ValueError):  # refused, reset, DNS, TLS, a garbled answer
        return None, ERROR_UNREACHABLE
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}"


def deliver(callback: Callback) -> bool:
    callback_id = callback.id
    status, error = send(callback)
    with write_transaction():
        callback = db.session.get(Callback, callback_id, populate_existing=True)
        now = utcnow()
        callback.attempts += 1
        callback.last_attempt_at = now
        callback.last_status, callback.last_error = status, error
        if error is None:
            callback.delivered_at, callback.next_attempt_at = now, None
        else:
            delay = claims.backoff(BACKOFF, callback.attempts)
            callback.next_attempt_at = now + delay if delay else None
            log.info("callback %s to %s failed (attempt %s): %s", callback.id, callback.url, callback.attempts, error)
    return error is None


def deliver_due(limit: int = 20) -> int:
    """The job: post up to `limit` callbacks whose time has come, claiming each just before it is sent;
    returns how many were accepted."""
    accepted = 0
    for _ in range(limit):
        claimed = _claim_next()
        if not claimed:
            break
        accepted += claims.each(Callback, claimed, deliver)
    return accepted


def retry_now(callback: Callback) -> None:
    """Admin "Kirim Ulang": an undelivered callback is tried at the next job run, even after the schedule gave up."""
    with write_transaction():
        db.session.execute(db.update(Callback).where(Callback.id == callback.id, Callback.delivered_at.is_(None))
                           .values(next_attempt_at=utcnow()))
