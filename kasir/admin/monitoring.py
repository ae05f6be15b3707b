"""Admin: the audit log (filter, pages, CSV) and the payments dashboard."""
from flask import Response, render_template, request, stream_with_context

from ..auth import admin_required
from ..extensions import db
from ..reports import audit, dashboard
from .blueprint import bp

PAGE_SIZE = 50


@bp.route("/audit")
@admin_required
def audit_log():
    audit_filter = audit.AuditFilter.from_args(request.args)
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(audit_filter.query(), page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template("admin/audit.html", pagination=pagination, rows=audit.sanitized(pagination.items),
                           filter=audit_filter, actions=audit.actions_in_use(), actors=audit.actors_in_use())


@bp.route("/audit/export.csv")
@admin_required
def audit_export():
    audit_filter = audit.AuditFilter.from_args(request.args)
    return Response(stream_with_context(audit.export_csv(audit_filter)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})


@bp.route("/dashboard")
@admin_required
def payments_dashboard():
    return render_template("admin/dashboard.html", dashboard=dashboard.build_dashboard())
