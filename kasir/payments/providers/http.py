"""A small JSON-over-HTTPS client for the gateways: one session per thread and key, timeouts, safe errors.

An idempotent read (GET, a status query) is tried once more after a dropped answer, a timeout or a 502-504,
by urllib3's Retry on the session; a POST (a charge, a cancel, a refund) never is, as it may have landed.

Errors raised from here never carry the key, the Authorization header, a URL with query data or the
gateway's raw body: only the gateway's name and what went wrong, in words a cashier can act on.
"""
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from .base import ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)
_local = threading.local()
# connect=0: a connection that failed is not retried either, so a POST is sent at most once, whatever the error.
READ_RETRY = Retry(total=1, connect=0, allowed_methods={"GET"}, status_forcelist={502, 503, 504},
                   raise_on_status=False, respect_retry_after_header=False)


class NetworkError(ProviderUnavailable):
    """No answer at all (connection refused, reset or timed out): the request may or may not have landed."""


def segment(value) -> str:
    """An id as one path segment of a gateway URL: percent-encoded, "/", "?", "#" and "%" included, so an id
    can never reach another endpoint. A dot-only id ("." or "..") would name this or the parent folder
    however it is spelt (requests turns "%2E" back into "."): it is refused."""
    text = str(value)
    if not text.strip("."):
        raise ProviderError("Nomor referensi pembayaran tidak valid.", code="invalid_reference")
    return quote(text, safe="")


@dataclass(frozen=True)
class GatewayResponse:
    http_status: int
    body: dict[str, Any] | None  # None when the answer was not a JSON object
    latency_ms: int


class GatewayClient:
    def __init__(self, label: str, base_url: str, secret: str, *, timeouts: tuple[float, float],
                 headers: dict[str, str] | None = None, basic_auth: bool = True):
        self.label = label
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._secret = secret
        self._basic_auth = basic_auth  # SNAP gateways sign each call themselves: no Basic header there
        self._headers = {"Accept": "application/json", "Content-Type": "application/json", **(headers or {})}

    def _session(self) -> requests.Session:
        # Pooled connections per thread (requests.Session is not documented as thread-safe), per key.
        sessions = getattr(_local, "sessions", None)
        if sessions is None:
            sessions = _local.sessions = {}
        cache_key = (self.base_url, self._basic_auth, hashlib.sha256(self._secret.encode()).hexdigest())
        session = sessions.get(cache_key)
        if session is None:
            session = requests.Session()
            if self._basic_auth:
                session.auth = (self._secret, "")  # Basic base64(key + ":"), as Midtrans and Xendit expect
            session.trust_env = False  # a proxy from the environment must not see the key by accident
            session.mount(self.base_url, HTTPAdapter(max_retries=READ_RETRY))
            sessions[cache_key] = session
        return session

    def request(self, method: str, path: str, *, json: dict | None = None, data: bytes | None = None,
                headers: dict | None = None) -> GatewayResponse:
        """One call (a GET tried once more on a dropped answer or a 502-504, see READ_RETRY). `data`: body bytes
        sent exactly as given (a signed body must not be serialised again)."""
        started = time.monotonic()
        try:
            response = self._session().request(method, self.base_url + path, json=json, data=data,
                                               headers={**self._headers, **(headers or {})},
                                               timeout=self.timeouts, allow_redirects=False)
        except requests.RequestException as exc:
            log.info("%s %s %s failed: %s", self.label, method, path, type(exc).__name__)
            if _timed_out(exc):
                raise NetworkError(f"{self.label} tidak menjawab dalam {self.timeouts[1]:g} detik.",
                                   code="provider_timeout") from None
            raise NetworkError(f"{self.label} tidak dapat dihubungi (koneksi gagal).") from None
        latency_ms = int((time.monotonic() - started) * 1000)
        log.info("%s %s %s -> HTTP %s in %d ms", self.label, method, path, response.status_code, latency_ms)
        return GatewayResponse(response.status_code, _json_object(response), latency_ms)


def _timed_out(exc: requests.RequestException) -> bool:
    """A timeout, also the read timeout that ended a GET's retries (requests raises that as a ConnectionError
    whose MaxRetryError has the timeout as its reason)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError)


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else {"items": body} if isinstance(body, list) else None
