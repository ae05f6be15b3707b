"""One callback POST: to a checked address only, and over within a total deadline.

Timeouts per socket read (what requests offers) do not bound a call: a receiver that sends a byte
every few seconds keeps each read alive forever. Here the whole call, from connecting to the status
line, has one wall-clock deadline: a timer shuts the socket down when it passes, which ends whatever
read is waiting. The host is resolved and every address checked (kasir.payments.callback_targets) before
connecting, and the connection goes to one of those addresses (TLS still verifies the host name), so
DNS cannot point the call elsewhere after the check. Redirects are not followed; the answer's body is
not read.
"""
import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from . import callback_targets


class DeadlineExceeded(TimeoutError):
    """The receiver did not answer within the call's deadline."""


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


def _connect(addresses: list[tuple], connect_timeout: float, deadline: float) -> socket.socket:
    """A connection to the first checked address that answers."""
    last_error: OSError = OSError("no address")
    for family, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded()
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(min(connect_timeout, remaining))
        try:
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error


def post(url: str, body: bytes, headers: dict[str, str], *, allowed_networks: str, connect_timeout: float,
         deadline_seconds: float) -> int:
    """POST `body` to `url`; the HTTP status. Raises TargetRefused, DeadlineExceeded or OSError/HTTPException."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    deadline = time.monotonic() + deadline_seconds
    addresses = callback_targets.resolve(parts.hostname, port, allowed_networks)
    sock = _connect(addresses, connect_timeout, deadline)
    watched = sock.dup()  # the same connection: shutting it down ends a read on `sock`, TLS-wrapped or not
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        try:
            watched.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    timer.daemon = True
    timer.start()
    try:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        if https:
            sock = _tls().wrap_socket(sock, server_hostname=parts.hostname)
        connection = http.client.HTTPConnection(parts.hostname, port)
        connection.sock = sock  # already connected (to the checked address): http.client only talks on it
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", target, body=body, headers={**headers, "Host": parts.netloc.rpartition("@")[2]})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        if expired.is_set():
            raise DeadlineExceeded() from None
        raise
    finally:
        timer.cancel()
        sock.close()
        watched.close()
