"""The audit trail: who did what, when and with what outcome (DESIGN §12)."""
from flask import has_request_context, request, session

from .extensions import db
from .models import AuditLog


def record(action: str, target: str = "", *, outcome: str = "ok", detail: str = "",
           actor: str | None = None) -> AuditLog:
    """Add an audit row to the current transaction: it commits (or rolls back) with the change it describes."""
    ip = ""
    if has_request_context():
        ip = request.remote_addr or ""
        actor = actor or session.get("username")
    entry = AuditLog(action=action, target=target[:120], outcome=outcome, detail=detail[:2000],
                     actor=actor or "system", ip=ip)
    db.session.add(entry)
    return entry
