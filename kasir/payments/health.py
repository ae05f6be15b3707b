"""Provider reachability as last measured by the job runner, for the till and /healthz."""
import threading
import time

from .providers import get_provider
from .providers.base import ConnectionResult, ProviderError

_lock = threading.Lock()
_latest: dict[str, tuple[float, ConnectionResult]] = {}
STALE_AFTER_SECONDS = 120


def refresh(provider_name: str | None = None) -> ConnectionResult:
    provider = get_provider(provider_name)
    try:
        result = provider.test_connection()
    except ProviderError as exc:
        result = ConnectionResult(ok=False, latency_ms=None, message=exc.message)
    with _lock:
        _latest[provider.name] = (time.monotonic(), result)
    return result


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
    from .gateway_settings import active_provider_name

    result = latest(active_provider_name())
    return result or ConnectionResult(ok=True, latency_ms=None, message="")
