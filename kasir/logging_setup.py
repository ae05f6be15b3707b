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
import threading
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
        if not hasattr(record, "request_id"):  # kasir.fastpath passes its own: it runs outside Flask
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class Throttle(logging.Filter):
    """Lets one record of `logger` through per `seconds`. In between, the logger is disabled, so the calls
    it would drop do not even build a record: waitress warns, while holding its task queue's lock, for
    each request it queues, and building those records cost a busy server a tenth of its time."""

    def __init__(self, logger: logging.Logger, seconds: float):
        super().__init__()
        self.logger = logger
        self.seconds = seconds

    def filter(self, record: logging.LogRecord) -> bool:
        self.logger.disabled = True
        reopen = threading.Timer(self.seconds, setattr, (self.logger, "disabled", False))
        reopen.daemon = True
        reopen.start()
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
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root.addHandler(handler)
    queue = logging.getLogger("waitress.queue")
    for throttle in [f for f in queue.filters if isinstance(f, Throttle)]:
        queue.removeFilter(throttle)
    queue.disabled = False
    queue.addFilter(Throttle(queue, QUEUE_WARNING_SECONDS))
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
        log_request_line(request.method, request.path, response.status_code, request.remote_addr, request_id,
                         g.request_started)
        return response


def request_id_for(incoming: str) -> str:
    """The caller's X-Request-Id when it is a sane one, else a new id."""
    return incoming if REQUEST_ID.fullmatch(incoming) else f"{_PROCESS_TAG}{next(_request_numbers):016x}"


# A new request id is this process's random tag and a count: unique, and cheaper than a uuid4 per poll.
_PROCESS_TAG = os.urandom(8).hex()
_request_numbers = itertools.count(1)


def log_request_line(method: str, path: str, status: int, remote_addr: str | None, request_id: str,
                     started: float, level: int = logging.INFO) -> None:
    if not log.isEnabledFor(level):
        return
    log.log(level, "%s %s %s", method, path, status,
             extra={"method": method, "path": path, "status": status, "remote_addr": remote_addr,
                    "request_id": request_id, "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
