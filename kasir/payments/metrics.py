"""How the payment gateways behave: every provider operation timed in memory, written down once a minute.

Timing a call costs a lock and a dict update, never a database write: the payments API and the
webhooks stay as fast as they are. Calls are counted per minute, per (provider, operation); the
`flush_provider_metrics` job (kasir.jobs) appends each process's counts to `provider_call_stats`
every 60 s, and readers add the stored rows to what this process has not flushed yet.

Every provider class is instrumented once, where it is defined (base.Provider.__init_subclass__).
"""
import functools
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..clock import as_utc, utcnow
from ..database import write_transaction
from ..extensions import db
from .models import ProviderCallStat

OPERATIONS = ("create_qr", "fetch_status", "cancel", "expire", "refund", "test_connection")
OPERATION_LABELS = {"create_qr": "Buat QR", "fetch_status": "Cek status", "cancel": "Batalkan",
                    "expire": "Akhiri QR kedaluwarsa", "refund": "Refund", "test_connection": "Tes koneksi"}
KEEP_FOR = timedelta(days=35)

# Set while an operation runs: one that calls another (expire → cancel) is one call to the gateway's user.
_in_operation: ContextVar[bool] = ContextVar("kasir_provider_operation", default=False)


@dataclass
class Bucket:
    calls: int = 0
    errors: int = 0
    total_ms: int = 0
    max_ms: int = 0

    def add(self, elapsed_ms: int, failed: bool) -> None:
        self.calls += 1
        self.errors += failed
        self.total_ms += elapsed_ms
        self.max_ms = max(self.max_ms, elapsed_ms)

    def merge(self, other: "Bucket") -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.total_ms += other.total_ms
        self.max_ms = max(self.max_ms, other.max_ms)


Key = tuple[datetime, str, str]  # (UTC minute, provider, operation)


class Collector:
    """This process's counts since the last flush."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[Key, Bucket] = {}

    def record(self, provider: str, operation: str, elapsed_ms: int, failed: bool,
               at: datetime | None = None) -> None:
        minute = as_utc(at or utcnow()).replace(second=0, microsecond=0)
        with self._lock:
            self._buckets.setdefault((minute, provider, operation), Bucket()).add(elapsed_ms, failed)

    def take(self) -> dict[Key, Bucket]:
        """Everything counted so far; the collector starts again from zero."""
        with self._lock:
            taken, self._buckets = self._buckets, {}
        return taken

    def put_back(self, taken: dict[Key, Bucket]) -> None:
        """A flush that failed returns its counts, so the next one writes them."""
        with self._lock:
            for key, bucket in taken.items():
                self._buckets.setdefault(key, Bucket()).merge(bucket)

    def snapshot(self) -> dict[Key, Bucket]:
        with self._lock:
            return {key: Bucket(**vars(bucket)) for key, bucket in self._buckets.items()}


collector = Collector()


def _failed(result) -> bool:
    """test_connection reports an unreachable gateway in its result instead of raising."""
    return getattr(result, "ok", True) is False


def _timed(method, operation: str):
    @functools.wraps(method)
    def timed(provider, *args, **kwargs):
        if _in_operation.get():
            return method(provider, *args, **kwargs)
        token = _in_operation.set(True)
        started = time.perf_counter()
        failed = True
        try:
            result = method(provider, *args, **kwargs)
            failed = _failed(result)
            return result
        finally:
            _in_operation.reset(token)
            collector.record(provider.name, operation, round((time.perf_counter() - started) * 1000), failed)

    timed.kasir_timed = True
    return timed


def instrument(cls: type) -> None:
    """Time the operations that `cls` itself defines (inherited ones are timed where they are defined)."""
    for operation in OPERATIONS:
        method = cls.__dict__.get(operation)
        if callable(method) and not getattr(method, "__isabstractmethod__", False) \
                and not getattr(method, "kasir_timed", False):
            setattr(cls, operation, _timed(method, operation))


def flush() -> int:
    """The job: append this process's counts to provider_call_stats and drop rows past KEEP_FOR.

    A quiet minute writes nothing: the till's database sees at most one short write a minute from here.
    """
    taken = collector.take()
    if not taken:
        return 0
    try:
        with write_transaction():
            db.session.execute(db.insert(ProviderCallStat), [
                {"minute": minute, "provider": provider, "operation": operation, "calls": bucket.calls,
                 "errors": bucket.errors, "total_ms": bucket.total_ms, "max_ms": bucket.max_ms}
                for (minute, provider, operation), bucket in taken.items()])
            db.session.execute(db.delete(ProviderCallStat).where(ProviderCallStat.minute < utcnow() - KEEP_FOR))
    except BaseException:
        collector.put_back(taken)
        raise
    return len(taken)


@dataclass(frozen=True)
class OperationStats:
    provider: str
    operation: str
    calls: int
    errors: int
    total_ms: int
    max_ms: int

    @property
    def label(self) -> str:
        return OPERATION_LABELS.get(self.operation, self.operation)

    @property
    def average_ms(self) -> int:
        return round(self.total_ms / self.calls) if self.calls else 0

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


def stats_between(start: datetime, end: datetime) -> list[OperationStats]:
    """Calls per (provider, operation) in [start, end): the stored minutes plus this process's unflushed ones."""
    totals: dict[tuple[str, str], Bucket] = {}
    rows = db.session.execute(
        db.select(ProviderCallStat.provider, ProviderCallStat.operation, db.func.sum(ProviderCallStat.calls),
                  db.func.sum(ProviderCallStat.errors), db.func.sum(ProviderCallStat.total_ms),
                  db.func.max(ProviderCallStat.max_ms))
        .where(ProviderCallStat.minute >= start, ProviderCallStat.minute < end)
        .group_by(ProviderCallStat.provider, ProviderCallStat.operation))
    for provider, operation, calls, errors, total_ms, max_ms in rows:
        totals[(provider, operation)] = Bucket(int(calls), int(errors), int(total_ms), int(max_ms))
    for (minute, provider, operation), bucket in collector.snapshot().items():
        if start <= minute < end:
            totals.setdefault((provider, operation), Bucket()).merge(bucket)
    order = {operation: index for index, operation in enumerate(OPERATIONS)}
    return [OperationStats(provider, operation, bucket.calls, bucket.errors, bucket.total_ms, bucket.max_ms)
            for (provider, operation), bucket in sorted(totals.items(),
                                                        key=lambda item: (item[0][0], order.get(item[0][1], 99)))]
