"""Admin "Cadangan Data": list the database backups, make one now, download one."""
from flask import abort, flash, redirect, render_template, send_from_directory, url_for

from .. import audit, backup
from ..auth import admin_required
from ..extensions import db
from .blueprint import bp


@bp.route("/backups")
@admin_required
def backup_list():
    return render_template("admin/backups.html", backups=backup.list_backups(), sqlite=backup.is_sqlite(),
                           pg_dump_hint=backup.PG_DUMP_HINT)


@bp.route("/backups", methods=["POST"])
@admin_required
def backup_create():
    try:
        made = backup.create_backup("manual")
    except backup.BackupError as exc:
        audit.record("CreateBackup", outcome="error", detail=str(exc))
        flash(f"Cadangan gagal: {exc}", "error")
    else:
        audit.record("CreateBackup", made.name)
        flash(f"Cadangan {made.name} dibuat.", "success")
    db.session.commit()
    return redirect(url_for("admin.backup_list"))


@bp.route("/backups/<name>")
@admin_required
def backup_download(name):
    found = backup.find_backup(name)
    if found is None:
        abort(404)
    audit.record("DownloadBackup", found.name)
    db.session.commit()
    return send_from_directory(backup.backup_folder(), found.name, as_attachment=True,
                               mimetype="application/vnd.sqlite3")
