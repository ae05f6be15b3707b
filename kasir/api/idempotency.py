"""Idempotency-Key (DESIGN §7): a key is claimed by a committed row before any work starts.

Concurrent requests with the same key therefore find the claim: while the first one runs they get 409
`idempotency_in_progress`; afterwards they get its stored response again. Keys live 24 h. A claim whose
process died mid-request is taken over by the next retry once no live request could still be running.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from ..clock import utcnow
from ..database import locking, primary_key, write_transaction
from ..extensions import db
from .errors import ApiError
from .models import IDEMPOTENCY_DONE, IDEMPOTENCY_IN_PROGRESS, IdempotencyKey

KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Claim:
    record: IdempotencyKey | None = None  # set when this request owns the key and must do the work
    status: int | None = None  # set (with body) when an earlier request already answered
    body: str | None = None


def fingerprint(method: str, path: str, body) -> str:
    """Equal for the same request whatever its JSON spacing or key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _in_progress() -> ApiError:
    return ApiError(409, "idempotency_in_progress", "a request with this Idempotency-Key is still being processed",
                    headers={"Retry-After": "1"})


def _answer_for(record, request_hash: str) -> Claim:
    """What a request gets for a key that an earlier request holds: its answer, or 422 / 409."""
    if record.request_hash != request_hash:
        raise ApiError(422, "idempotency_key_reuse",
                       "this Idempotency-Key was used with a different request body")
    if record.state == IDEMPOTENCY_IN_PROGRESS:
        raise _in_progress()
    return Claim(status=record.response_status, body=record.response_body)


def _expired(record) -> bool:
    return record.created_at <= utcnow() - KEEP_FOR


def _abandoned(record, abandoned_before: datetime) -> bool:
    """A claim whose request never finished and no live request could still be running: its process died."""
    return record.state == IDEMPOTENCY_IN_PROGRESS and record.created_at <= abandoned_before


# A key's record, read as it is or locked and read afresh. Built once (docs/performance.md).
_RECORD = select(IdempotencyKey).where(IdempotencyKey.api_key_id == bindparam("api_key_id"),
                                       IdempotencyKey.key == bindparam("key"))
_LOCKED_RECORD = locking(_RECORD)


def _find(api_key_id: int, key: str, *, for_update: bool = False) -> IdempotencyKey | None:
    return db.session.scalar(_LOCKED_RECORD if for_update else _RECORD, {"api_key_id": api_key_id, "key": key})


def replay(api_key_id: int, key: str, request_hash: str, *, abandoned_before: datetime) -> Claim | None:
    """A key that an earlier request holds, read without the write lock (a repeat is the common case and
    its stored answer does not change): its Claim, or 422 / 409. None when the key is free or its claim
    was abandoned; then `claim`."""
    record = _find(api_key_id, key)
    if record is None or _expired(record) or (record.request_hash == request_hash
                                              and _abandoned(record, abandoned_before)):
        return None
    return _answer_for(record, request_hash)


def claim(api_key_id: int, key: str, request_hash: str, *, abandoned_before: datetime) -> Claim:
    """Own the key (do the work), or the stored answer; a claim older than `abandoned_before` whose request
    never finished (its process died) is taken over, so the client's retry gets an answer."""
    try:
        with write_transaction():
            record = _find(api_key_id, key, for_update=True)
            if record is not None and _expired(record):
                db.session.delete(record)  # expired, not purged yet: the key is free
                db.session.flush()
                record = None
            if record is None:
                record = IdempotencyKey(api_key_id=api_key_id, key=key, request_hash=request_hash,
                                        state=IDEMPOTENCY_IN_PROGRESS, created_at=utcnow())
                db.session.add(record)
                db.session.flush()  # PostgreSQL: a concurrent claim of the same key fails here, not in the work
                return Claim(record=record)
            if record.request_hash == request_hash and _abandoned(record, abandoned_before):
                record.created_at = utcnow()
                return Claim(record=record)
            return _answer_for(record, request_hash)
    except IntegrityError:  # PostgreSQL: another request inserted the same key a moment earlier
        raise _in_progress() from None


def finish(claim: Claim, status: int, body: str) -> None:
    """Store the answer for the claimed key, in the caller's write transaction if there is one (the work
    and its answer then commit together)."""
    record = claim.record
    with write_transaction():
        record.state, record.response_status, record.response_body = IDEMPOTENCY_DONE, status, body


def release(claim: Claim) -> None:
    """The request failed unexpectedly: free the key so that the client's retry can do the work."""
    with write_transaction():
        db.session.execute(db.delete(IdempotencyKey).where(IdempotencyKey.id == primary_key(claim.record)))


def purge_expired(now: datetime | None = None) -> int:
    """The job: forget keys older than 24 h."""
    with write_transaction():
        result = db.session.execute(db.delete(IdempotencyKey).where(
            IdempotencyKey.created_at <= (now or utcnow()) - KEEP_FOR))
    return result.rowcount
