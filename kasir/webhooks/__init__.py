"""Gateways' webhooks (DESIGN §7). JSON in and out; CSRF-exempt, authenticated by signature."""
from flask import Blueprint, jsonify, request

from ..extensions import csrf, limiter
from . import service

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
limiter.exempt(bp)


@bp.route("/qris", methods=["POST"])
def qris():
    reply = service.receive_generic(request.headers, request.get_data(cache=False))
    return jsonify(reply.body), reply.status


@bp.route("/midtrans", methods=["POST"])
def midtrans():
    reply = service.receive_from("midtrans", request.headers, request.get_data(cache=False))
    return jsonify(reply.body), reply.status


@bp.route("/xendit", methods=["POST"])
def xendit():
    reply = service.receive_from("xendit", request.headers, request.get_data(cache=False))
    return jsonify(reply.body), reply.status
