"""Gateways' webhooks (DESIGN §7). JSON in and out; CSRF-exempt, authenticated by signature. Exempt from
the default rate limits: a sender's refused deliveries have their own (kasir.webhooks.rejections)."""
from flask import Blueprint, jsonify, request

from ..extensions import csrf, limiter
from . import service

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

