"""Provider reachability as last measured by the job runner, for the till and /healthz.

The job probes every 30 s while the provider answers and every 5 s while it does not, so the QRIS button
comes back soon after the gateway does. Real calls that found the gateway unreachable count as a
measurement too: the till learns of an outage from the first failed charge or status sync.
"""
import threading
import time

from .gateway_settings import active_provider_name
from .providers import get_provider
from .providers.base import ConnectionResult, ProviderError, ProviderUnavailable

_lock = threading.Lock()
_latest: dict[str, tuple[float, ConnectionResult]] = {}
STALE_AFTER_SECONDS = 120
PROBE_EVERY_SECONDS = 30
PROBE_WHILE_DOWN_SECONDS = 5


def refresh(provider_name: str | None = None) -> ConnectionResult:
    provider = get_provider(provider_name)
    try:
        result = provider.test_connection()
    except ProviderError as exc:
        result = ConnectionResult(ok=False, latency_ms=None, message=exc.message)
    with _lock:
        _latest[provider.name] = (time.monotonic(), result)
    return result


def refresh_due() -> ConnectionResult | None:
    """The job: probe the active provider when its last measurement is old enough for its state."""
    name = active_provider_name()
    with _lock:
        entry = _latest.get(name)
    if entry is not None:
        measured_at, result = entry
        if time.monotonic() - measured_at < (PROBE_EVERY_SECONDS if result.ok else PROBE_WHILE_DOWN_SECONDS):
            return None
    return refresh(name)


def record_unreachable(provider_name: str, error: ProviderUnavailable) -> None:
    """A real call got no usable answer: the till stops offering QRIS until a probe succeeds."""
    with _lock:
        _latest[provider_name] = (time.monotonic(), ConnectionResult(ok=False, latency_ms=None, message=error.message))


def forget() -> None:
    """Drop all measurements: after keys or the provider change, the old answer says nothing."""
    with _lock:
        _latest.clear()


def latest(provider_name: str) -> ConnectionResult | None:
    """The last measurement, or None when there is none recent (then QRIS stays available: we don't know)."""
    with _lock:
        entry = _latest.get(provider_name)
    if entry is None or time.monotonic() - entry[0] > STALE_AFTER_SECONDS:
        return None
    return entry[1]


def availability() -> ConnectionResult:
    """Whether the till should offer QRIS now; unknown counts as available."""
    result = latest(active_provider_name())
    return result or ConnectionResult(ok=True, latency_ms=None, message="")
