"""Refused webhook deliveries: counted and sampled in memory, never stored one by one.

Anyone who can reach the server can post to /webhooks/*, so a refused delivery (bad signature, a body
that is not the gateway's, a sender over its limit, a replay) must cost next to nothing: no database
write, no stored body. Each is counted per (hour, provider, sender, outcome) with its first few samples
(a subset of headers, the start of the body, the reason); the `flush_webhook_rejections` job (kasir.jobs)
adds this process's counts to `webhook_rejections` once a minute and at shutdown, so the audit value
stays (how many, from where, what they looked like) while the table grows by at most one row per
hour, provider, sender and outcome.

A sender whose deliveries keep being refused is answered 429 before anything else is done with them:
WEBHOOK_REFUSED_RATE_LIMIT (per sender address, Flask-Limiter's storage) counts its refusals. A gateway
whose deliveries verify is never limited.
"""
import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from limits import parse

from ..clock import as_utc, utcnow
from ..database import write_transaction
from ..extensions import db, limiter
from ..payments.models import WebhookRejection

REJECTED, MALFORMED, RATE_LIMITED, DUPLICATE = "rejected", "malformed", "rate_limited", "duplicate"
# What the dashboard counts as refused (a duplicate is answered 200: it is a replay, not an error).
REFUSALS = (REJECTED, MALFORMED, RATE_LIMITED)
SAMPLES_PER_ROW = 3
SAMPLE_BODY_CHARS = 200
SAMPLE_HEADERS = ("Content-Type", "User-Agent", "X-Event-Id", "X-Timestamp", "Content-Length")
# Distinct (hour, provider, sender, outcome) keys held between two flushes; past this, senders are
# counted together under OTHER_SOURCES, so memory stays bounded whatever the number of senders.
MAX_KEYS = 1000
OTHER_SOURCES = "*"
LIMIT_SCOPE = "webhook-refused"

Key = tuple[datetime, str, str, str]  # (UTC hour, provider, source, outcome)


@dataclass
class Bucket:
    count: int = 0
    samples: list[dict] = field(default_factory=list)

    def merge(self, other: "Bucket") -> None:
        self.count += other.count
        self.samples.extend(other.samples[:SAMPLES_PER_ROW - len(self.samples)])


def sample(reason: str, headers, raw_body: bytes, at: datetime) -> dict:
    """What is kept of one refused delivery: small, and nothing a signature could be taken from."""
    return {"at": at.isoformat(), "reason": reason[:200],
            "headers": {name: str(headers.get(name))[:100] for name in SAMPLE_HEADERS if headers.get(name)},
            "body": raw_body[:SAMPLE_BODY_CHARS].decode("utf-8", "replace")}


class Tally:
    """This process's refused deliveries since the last flush."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[Key, Bucket] = {}

    def record(self, provider: str, source: str | None, outcome: str, reason: str, headers, raw_body: bytes) -> None:
        now = utcnow()
        hour = now.replace(minute=0, second=0, microsecond=0)
        key = (hour, provider, (source or "-")[:64], outcome)
        with self._lock:
            if key not in self._buckets and len(self._buckets) >= MAX_KEYS:
                key = (hour, provider, OTHER_SOURCES, outcome)
            bucket = self._buckets.setdefault(key, Bucket())
            bucket.count += 1
            if len(bucket.samples) < SAMPLES_PER_ROW:
                bucket.samples.append(sample(reason, headers, raw_body, now))

    def take(self) -> dict[Key, Bucket]:
        with self._lock:
            taken, self._buckets = self._buckets, {}
        return taken

    def put_back(self, taken: dict[Key, Bucket]) -> None:
        """A flush that failed returns its counts, so the next one writes them."""
        with self._lock:
            for key, bucket in taken.items():
                self._buckets.setdefault(key, Bucket()).merge(bucket)

    def count_between(self, start: datetime, end: datetime, outcomes) -> int:
        with self._lock:
            return sum(bucket.count for (hour, _provider, _source, outcome), bucket in self._buckets.items()
                       if start <= hour < end and outcome in outcomes)


tally = Tally()


def _limit():
    return parse(current_app.config["WEBHOOK_REFUSED_RATE_LIMIT"])


def over_limit(source: str | None) -> bool:
    """True while `source` has had more deliveries refused than WEBHOOK_REFUSED_RATE_LIMIT allows."""
    if not current_app.config["RATELIMIT_ENABLED"] or not source:
        return False
    return not limiter.limiter.test(_limit(), LIMIT_SCOPE, source)


def refuse(provider: str, source: str | None, outcome: str, reason: str, headers, raw_body: bytes) -> None:
    """Count one refused delivery; one that failed verification counts against its sender's limit too."""
    tally.record(provider, source, outcome, reason, headers, raw_body)
    if outcome in (REJECTED, MALFORMED) and source and current_app.config["RATELIMIT_ENABLED"]:
        limiter.limiter.hit(_limit(), LIMIT_SCOPE, source)


def flush() -> int:
    """The job: add this process's counts to webhook_rejections (one row per key, samples capped)."""
    taken = tally.take()
    if not taken:
        return 0
    try:
        with write_transaction():
            for (hour, provider, source, outcome), bucket in taken.items():
                row = db.session.scalar(db.select(WebhookRejection).where(
                    WebhookRejection.hour == hour, WebhookRejection.provider == provider,
                    WebhookRejection.source == source, WebhookRejection.outcome == outcome).with_for_update())
                if row is None:
                    db.session.add(WebhookRejection(hour=hour, provider=provider, source=source, outcome=outcome,
                                                    count=bucket.count, samples=bucket.samples))
                    continue
                row.count += bucket.count
                kept = list(row.samples or [])
                row.samples = kept + bucket.samples[:max(0, SAMPLES_PER_ROW - len(kept))]
    except BaseException:  # PostgreSQL: another process added the same row first; the next flush adds to it
        tally.put_back(taken)
        raise
    return len(taken)


def refused_between(start: datetime, end: datetime) -> int:
    """Refused deliveries (not duplicates) received in [start, end), by whole hours: stored plus unflushed."""
    stored = db.session.scalar(db.select(db.func.coalesce(db.func.sum(WebhookRejection.count), 0)).where(
        WebhookRejection.hour >= as_utc(start), WebhookRejection.hour < as_utc(end),
        WebhookRejection.outcome.in_(REFUSALS)))
    return int(stored) + tally.count_between(start, end, REFUSALS)
