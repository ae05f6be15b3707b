"""Admin "Struk Digital": the shop's public address, which puts a QR to the e-receipt on the customer display."""
from flask import flash, redirect, render_template, request, url_for

from .. import audit
from ..auth import admin_required
from ..extensions import db
from ..printing.ereceipt import PUBLIC_URL_KEY, PublicUrlError, clean_public_url
from ..sales import touch_all_displays
from ..settings import get_setting, set_setting
from .blueprint import bp


@bp.route("/settings/ereceipt", methods=["GET", "POST"])
@admin_required
def ereceipt_settings():
    """Show and save the public base URL; a bad URL is refused in Indonesian with nothing changed."""
    error = None
    value = get_setting(PUBLIC_URL_KEY)
    if request.method == "POST":
        value = request.form.get("public_base_url", "")
        try:
            url = clean_public_url(value)
        except PublicUrlError as exc:
            error = str(exc)
        else:
            set_setting(PUBLIC_URL_KEY, url)
            touch_all_displays()  # a display showing "Terima kasih" redraws with (or without) the QR
            audit.record("SaveConfig", "ereceipt", detail=f"public_base_url={url}")
            db.session.commit()
            flash("Pengaturan struk digital disimpan.", "success")
            return redirect(url_for("admin.ereceipt_settings"))
    return render_template("admin/ereceipt_settings.html", value=value, error=error), (422 if error else 200)
