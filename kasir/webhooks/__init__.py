"""Gateways' webhooks (DESIGN §7). JSON in and out; CSRF-exempt, authenticated by signature. Exempt from
the default rate limits: a sender's refused deliveries have their own (kasir.webhooks.rejections).

kasir.fastpath answers them in front of Flask with `intake`; these views are the same for a body it
leaves to Flask (and when the fast path is off)."""
import logging

from flask import Blueprint, jsonify, request

from ..extensions import csrf, limiter
from ..fastpath import app_context, json_answer
from ..web import json_error
from . import service

log = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
limiter.exempt(bp)


def receive(endpoint: str, headers, raw_body: bytes, source: str | None) -> service.Reply:
    """/webhooks/qris speaks the generic format of the configured provider; the others their gateway's own.
    `source` is the sender's address: refused deliveries are counted, and limited, per sender."""
    if endpoint == "qris":
        return service.receive_generic(headers, raw_body, source)
    return service.receive_from(endpoint, headers, raw_body, source)


def _view(endpoint: str):
    reply = receive(endpoint, request.headers, request.get_data(cache=False), request.remote_addr)
    return jsonify(reply.body), reply.status


@bp.route("/qris", methods=["POST"])
def qris():
    return _view("qris")


@bp.route("/midtrans", methods=["POST"])
def midtrans():
    return _view("midtrans")


@bp.route("/xendit", methods=["POST"])
def xendit():
    return _view("xendit")


def intake(fast, fast_request, endpoint: str):
    """The views' answer for kasir.fastpath, whatever the outcome; None for a body Flask refuses unread."""
    length = fast_request.content_length
    if length is None or length > fast.app.config["MAX_CONTENT_LENGTH"]:
        return None
    raw_body = fast_request.get_data(cache=False)
    with app_context(fast.app):  # the database session, settings and providers
        try:
            reply = receive(endpoint, fast_request.headers, raw_body, fast_request.remote_addr)
        except Exception:  # receive() rolled back and kept the delivery for the job: the sender retries too
            log.exception("webhook %s failed", fast_request.path)
            reply = service.Reply(500, json_error(500))
        return json_answer(fast.app, reply.body, reply.status, logging.INFO)
