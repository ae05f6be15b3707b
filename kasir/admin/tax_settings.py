"""Admin "Pajak": PPN, PBJT, service charge, inclusive prices and cash rounding (kasir/tax.py, docs/tax.md)."""
from flask import flash, redirect, render_template, request, url_for

from .. import audit
from ..auth import admin_required
from ..extensions import db
from ..settings import set_tax_settings, tax_settings
from ..tax import TaxRuleError, format_percent, settings_from_form
from .blueprint import bp


@bp.route("/settings/tax", methods=["GET", "POST"])
@admin_required
def tax_settings_page():
    """Show and save the shop's tax rule; a bad value is refused with nothing changed."""
    error = None
    rule = tax_settings()
    if request.method == "POST":
        try:
            rule = settings_from_form(request.form)
        except TaxRuleError as exc:
            error = str(exc)
        else:
            set_tax_settings(rule)
            audit.record("SaveConfig", "tax", detail=rule.to_text())
            db.session.commit()
            flash("Pengaturan pajak disimpan. Berlaku untuk keranjang berikutnya.", "success")
            return redirect(url_for("admin.tax_settings_page"))
    return render_template("admin/tax_settings.html", rule=rule, form=request.form if error else None, error=error,
                           percent=format_percent), (422 if error else 200)
