"""/simulator: plays the customer's banking app for the mock provider, over real signed HTTP webhooks."""
import json
import logging
import secrets

import requests
from flask import Blueprint, abort, flash, redirect, render_template, url_for

from .auth import admin_required
from .extensions import db
from .payments import gateway_settings, states
from .payments.gateway_settings import active_provider_name
from .payments.models import MockLedgerEntry
from .payments.providers import generic, get_provider

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
log = logging.getLogger(__name__)

OUTCOMES = {"bayar": "SUCCESS", "gagal": "FAILED", "kedaluwarsa": "EXPIRED"}


@bp.before_request
def mock_only():
    if active_provider_name() != "mock":
        abort(404)


def send_webhook(body: dict, url: str) -> requests.Response:
    """Deliver a generic signed webhook the way a gateway would: over HTTP, to our own endpoint."""
    raw = json.dumps(body).encode()
    headers = generic.signed_headers(gateway_settings.webhook_secret(), raw, f"sim-{secrets.token_hex(8)}")
    return requests.post(url, data=raw, headers=headers, timeout=(3, 10))


@bp.route("")
@admin_required
def index():
    entries = db.session.scalars(db.select(MockLedgerEntry).order_by(MockLedgerEntry.created_at.desc()).limit(30)).all()
    return render_template("simulator/index.html", entries=entries, pending=states.PENDING, labels=states.LABELS)


@bp.route("/<trx_id>/<action>", methods=["POST"])
@admin_required
def settle(trx_id, action):
    entry = db.session.get(MockLedgerEntry, trx_id)
    if entry is None or action not in OUTCOMES:
        abort(404)
    if entry.status != states.PENDING and action != "bayar":
        flash("QR ini sudah tidak menunggu pembayaran.", "error")
        return redirect(url_for("simulator.index"))
    body = get_provider("mock").settle(entry, OUTCOMES[action])
    try:
        response = send_webhook(body, url_for("webhooks.qris", _external=True))
        flash(f"Webhook {OUTCOMES[action]} terkirim untuk {entry.reference}: HTTP {response.status_code}.", "success")
    except requests.RequestException as exc:
        log.warning("simulator webhook failed: %s", type(exc).__name__)
        flash("Webhook gagal dikirim; status akan tersinkron lewat Cek Status.", "error")
    return redirect(url_for("simulator.index"))
