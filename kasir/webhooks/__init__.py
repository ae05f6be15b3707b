"""Gateways' webhooks (DESIGN §7). JSON in and out; CSRF-exempt, authenticated by signature. Exempt from
the default rate limits: a sender's refused deliveries have their own (kasir.webhooks.rejections)."""
from flask import Blueprint, jsonify, request

from ..extensions import csrf, limiter
from ..payments.providers import get_provider
from ..payments.providers.base import WebhookRejected
from . import rejections, service

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
limiter.exempt(bp)
# NICEPAY posts to a fixed path of its own under the shop's base URL, outside /webhooks.
nicepay_bp = Blueprint("nicepay_notify", __name__)
csrf.exempt(nicepay_bp)
limiter.exempt(nicepay_bp)
SNAP_NOTIFY_OK = {"responseCode": "2005200", "responseMessage": "Successful"}


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



def _snap_view(endpoint: str):
    """A SNAP notification (DOKU, NICEPAY): the common intake, answered with the SNAP success code too."""
    reply = receive(endpoint, request.headers, request.get_data(cache=False), request.remote_addr)
    body = {**SNAP_NOTIFY_OK, **reply.body} if reply.status == 200 else reply.body
    return jsonify(body), reply.status


@bp.route("/doku", methods=["POST"])
def doku():
    return _snap_view("doku")


@bp.route("/doku/access-token/b2b", methods=["POST"])
def doku_token():
    """DOKU asks us for a token before it notifies: its RSA signature is checked with its public key."""
    source = request.remote_addr
    if rejections.over_limit(source):
        return jsonify({"responseCode": "4297300", "responseMessage": "Too Many Requests"}), 429
    raw_body = request.get_data(cache=False)
    try:
        return jsonify(get_provider("doku").issue_notification_token(request.headers))
    except WebhookRejected as exc:
        rejections.refuse("doku", source, rejections.REJECTED, str(exc), request.headers, raw_body)
        return jsonify({"responseCode": "4017300", "responseMessage": "Unauthorized. Signature"}), 401


@bp.route("/nicepay", methods=["POST"])
def nicepay():
    return _snap_view("nicepay")


@nicepay_bp.route("/api/v1.0/qr/qr-mpm-notify", methods=["POST"])
def nicepay_own_path():
    return _snap_view("nicepay")
