"""GET /healthz (DESIGN §7): database, payment provider and printer at a glance, for monitors. No secrets."""
import logging
from datetime import timedelta

from flask import Blueprint, jsonify
from sqlalchemy import func, text
from sqlalchemy.exc import SQLAlchemyError

from .clock import utcnow
from .extensions import db, limiter
from .models import PRINT_FAILED, PrintJob
from .payments import health
from .payments.gateway_settings import active_provider_name
from .printing.settings import printer_settings
from .version import __version__

bp = Blueprint("healthz", __name__)
limiter.exempt(bp)
log = logging.getLogger(__name__)
FAILED_PRINTS_WINDOW = timedelta(hours=24)


def _database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        db.session.rollback()
        return False


def _provider() -> dict:
    name = active_provider_name()
    result = health.latest(name) or health.refresh(name)
    return {"name": name, "reachable": result.ok, "latency_ms": result.latency_ms}


def _printer() -> dict:
    settings = printer_settings()
    failed = db.session.scalar(db.select(func.count(PrintJob.id)).where(
        PrintJob.status == PRINT_FAILED, PrintJob.created_at >= utcnow() - FAILED_PRINTS_WINDOW)) or 0
    scheme = settings.url.split("://", 1)[0] if settings.enabled else "none"
    return {"enabled": settings.enabled, "scheme": scheme, "width_mm": settings.width_mm, "failed_jobs_24h": failed}


@bp.route("/healthz")
def healthz():
    if not _database_ok():
        return jsonify(status="error", db="error", provider=None, printer=None, version=__version__), 503
    provider = _provider()
    status = "ok" if provider["reachable"] else "degraded"
    return jsonify(status=status, db="ok", provider=provider, printer=_printer(), version=__version__)
