"""The polls every till, customer display and app sends each second, and the gateways' webhooks,
answered in front of Flask.

A till polls its QR's status, a customer display its state and an app `GET /payments/<id>`, each about
once a second for as long as a payment is open (DESIGN §8). Almost every one of those answers is the
steady one: the QR is still PENDING, the display has not changed, the payment is as it was. Those are
answered here, with one `RawRead` and no request context, ORM session or Flask hooks, which cost
many times the query itself.

Each poll handler returns None for anything that is not the steady case (not logged in, wrong register or
token, a final state, a CORS request, an API key due for its last-used stamp, …): the request then goes
to the Flask view, which stays the reference for every rule and every error. The answers carry the
same headers as Flask's; tests compare both paths answer for answer. Their log line is DEBUG: one line
per screen per second would bury everything else (a poll that changes something goes to Flask and is
logged at INFO as ever).

A webhook is all work and no page: its handler runs the same intake service as the view, in an app
context, and answers whatever the outcome (Flask's request handling was a fifth of its cost
in-process). Only a body Flask would refuse unread (no Content-Length, or over the limit) goes to the view.
"""
import logging
import re
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

from flask import Flask, current_app, has_app_context
from werkzeug.http import HTTP_STATUS_CODES, parse_cookie
from werkzeug.utils import cached_property
from werkzeug.wrappers import Request

from .extensions import db
from .logging_setup import log_request_line, request_id_for
from .web import SECURITY_HEADERS

log = logging.getLogger(__name__)


@dataclass
class Answer:
    status: str
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    log_level: int = logging.DEBUG


NO_CONTENT = Answer("204 NO CONTENT", content_type="text/html; charset=utf-8")  # as Flask sends ("", 204)


def html_answer(body: str, headers: list[tuple[str, str]] | None = None) -> Answer:
    return Answer("200 OK", body.encode(), "text/html; charset=utf-8", headers or [])


def json_answer(app: Flask, payload, status: int = 200, log_level: int = logging.DEBUG) -> Answer:
    """JSON as Flask's `jsonify` writes it (compact, sorted keys, a final newline), with its status line."""
    return Answer(f"{status} {HTTP_STATUS_CODES[status].upper()}",
                  f"{app.json.dumps(payload, separators=(',', ':'))}\n".encode(), "application/json",
                  log_level=log_level)


def render_partial(app: Flask, template_name: str, **context) -> str:
    """A template rendered with `context` alone: no Flask globals or request. The steady polls' partials
    need none, and merging the globals into each render's context costs a third of the render."""
    template = app.jinja_env.get_template(template_name)
    return template.environment.concat(template.root_render_func(template.new_context(context, shared=True)))


def app_context(app: Flask):
    """The app context a Flask request would run in: the one already pushed for `app` (tests, the CLI),
    or a new one, popped (and its database session removed) at the end."""
    if has_app_context() and current_app._get_current_object() is app:
        return nullcontext()
    return app.app_context()


class FastRequest(Request):
    @cached_property
    def cookies(self):
        # Werkzeug joins every Cookie header via a scan of the whole environ; a WSGI environ holds one.
        return parse_cookie(self.environ.get("HTTP_COOKIE"), cls=self.dict_storage_class)


class FastPath:
    """WSGI middleware: `routes` maps (method, path pattern) to handler(fast, request, *groups) -> Answer | None,
    where `fast.app` is the Flask app and `fast.engine` its database engine."""

    def __init__(self, app: Flask, routes: dict[tuple[str, str], callable]):
        self.app = app
        self.wsgi_app = app.wsgi_app
        with app.app_context():
            self.engine = db.engine
        self.routes = [(method, re.compile(pattern), handler) for (method, pattern), handler in routes.items()]

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        started = time.perf_counter()
        request = None
        for route_method, pattern, handler in self.routes:
            if route_method != method:
                continue
            request = request or FastRequest(environ)
            match = pattern.fullmatch(request.path)  # the path as Flask decodes it
            if match:
                try:
                    answer = handler(self, request, *match.groups())
                except Exception:  # the Flask view answers, with its error handling, and logs again if it fails too
                    log.exception("fast path for %s failed; the Flask view answers", request.path)
                    answer = None
                if answer is not None:
                    return self._respond(request, answer, started, start_response)
                break
        return self.wsgi_app(environ, start_response)

    def _respond(self, request: Request, answer: Answer, started: float, start_response):
        request_id = request_id_for(request.headers.get("X-Request-Id", ""))
        headers = [("Content-Type", answer.content_type)] if answer.content_type else []
        if not answer.status.startswith("204"):  # a 204 has no Content-Length (RFC 9110 §8.6)
            headers.append(("Content-Length", str(len(answer.body))))
        headers += answer.headers
        headers += SECURITY_HEADERS
        headers.append(("X-Request-Id", request_id))
        start_response(answer.status, headers)
        log_request_line(request.method, request.path, int(answer.status[:3]), request.remote_addr, request_id,
                         started, answer.log_level)
        return [answer.body]


def install(app: Flask) -> None:
    from .api.routes import steady_payment
    from .display.routes import unchanged_state
    from .pos.qris_routes import pending_status
    from .webhooks import intake

    if app.config["FAST_PATH"]:
        app.wsgi_app = FastPath(app, {
            ("GET", r"/pos/payments/([^/]+)/status"): pending_status,
            ("GET", r"/display/([^/]+)/state"): unchanged_state,
            ("GET", r"/payments/([^/]+)"): steady_payment,
            ("POST", r"/webhooks/(qris|midtrans|xendit)"): intake,
        })
