"""Logs (DESIGN §10, §12): one JSON object per line with LOG_FORMAT=json, a request id on every request,
and no secrets in either format: bearer tokens, API keys, signatures and passwords are redacted.
Control characters in logged values are escaped ("\n" stays two characters), so a request path with
%0a cannot forge a line of the log; only a traceback spans several lines.
"""
import itertools
import json
import logging
import os
import re
import sys
import time

from flask import Flask, g, has_request_context, request

from . import redaction
from .clock import utcnow

log = logging.getLogger("kasir.request")

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# On top of kasir.redaction (gateway keys, Authorization, signature headers): the API's own secrets.
EXTRA_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(r"kasir_[A-Za-z0-9_-]{8,}"),  # an API token anywhere in a message
    re.compile(r"(?i)((?:token|signature|secret|password|api[_-]?key|server[_-]?key)"
               r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',&]+"),
)
HANDLER_NAME = "kasir-log"
# waitress warns "Task queue depth is N" for every request that waits for a free thread: under a burst,
# thousands of lines a second that say the same thing (and cost the server more than the requests).
QUEUE_WARNING_SECONDS = 60


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators (str.splitlines splits on them all).
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


_redact_extra = redaction.pattern_redactor(EXTRA_SECRET_PATTERNS)


def redact(text: str) -> str:
    return _redact_extra(redaction.redact(text))


def escape_controls(text: str) -> str:
    r"""`text` on one line: each control character as its Python escape (\n, \t, \x1b, \u2028)."""
    return CONTROL_CHARACTERS.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class QueueWarningThrottle(logging.Filter):
    """On the handler: lets one of waitress's "Task queue depth" warnings through per `seconds`. waitress
    warns for every request that waits for a free thread: under a burst, thousands of lines a second that
    say the same thing. Every other record passes."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.quiet_until = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "waitress.queue":
            return True
        now = time.monotonic()
        if now < self.quiet_until:
            return False
        self.quiet_until = now + self.seconds
        return True


class JsonFormatter(logging.Formatter):
    # Fields a log call may add with extra={...}; anything else stays out of the line.
    EXTRA_FIELDS = ("method", "path", "status", "duration_ms", "remote_addr")

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": utcnow().isoformat(timespec="milliseconds"), "level": record.levelname,
                 "logger": record.name, "message": escape_controls(redact(record.getMessage())),
                 "request_id": getattr(record, "request_id", "-")}
        for name in self.EXTRA_FIELDS:
            if hasattr(record, name):
                value = getattr(record, name)
                entry[name] = escape_controls(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class RedactingFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        # The line itself; a traceback, which format() appends after it, keeps its own lines.
        return escape_controls(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(log_format: str) -> None:
    """Install one handler on the root logger (again on each call, so the last app's format wins)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(QueueWarningThrottle(QUEUE_WARNING_SECONDS))
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    if root.level == logging.WARNING:  # the untouched default: let INFO through
        root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    redaction.register_secret(app.config["CALLBACK_SIGNING_KEY"])
    if not app.testing:  # pytest captures logs its own way
        configure_logging(app.config["LOG_FORMAT"])

    @app.before_request
    def assign_request_id():
        g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER, ""))
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response):
        request_id = g.get("request_id")
        if request_id is None:
            return response
        response.headers[REQUEST_ID_HEADER] = request_id
        level = g.get("request_log_level", logging.INFO)
        if log.isEnabledFor(level):
            log.log(level, "%s %s %s", request.method, request.path, response.status_code,
                    extra={"method": request.method, "path": request.path, "status": response.status_code,
                           "remote_addr": request.remote_addr,
                           "duration_ms": round((time.perf_counter() - g.request_started) * 1000, 1)})
        return response


def log_at_debug() -> None:
    """This request's log line is DEBUG, not INFO: an unchanged poll, which every screen sends each second."""
    g.request_log_level = logging.DEBUG


def request_id_for(incoming: str) -> str:
    """The caller's X-Request-Id when it is a sane one, else a new id."""
    return incoming if REQUEST_ID.fullmatch(incoming) else f"{_PROCESS_TAG}{next(_request_numbers):016x}"


# A new request id is this process's random tag and a count: unique, and cheaper than a uuid4 per poll.
_PROCESS_TAG = os.urandom(8).hex()
_request_numbers = itertools.count(1)
