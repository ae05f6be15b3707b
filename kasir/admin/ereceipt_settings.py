"""Admin "Struk Digital": the shop's public address (a QR to the e-receipt on the customer display) and the SMTP
server that e-mails receipts (password sealed, shown masked), with Tes Koneksi, a test mail and the mails
that failed."""
from flask import current_app, flash, redirect, render_template, request, url_for

from .. import audit
from ..auth import admin_required
from ..extensions import db, limiter
from ..mail import outbox as mail_outbox
from ..mail import settings as mail_settings
from ..mail import smtp
from ..printing.ereceipt import PUBLIC_URL_KEY, PublicUrlError, clean_public_url
from ..sales import touch_all_displays
from ..settings import get_setting, set_setting
from .blueprint import bp


def _page(value: str, error: str | None = None, smtp_errors: dict | None = None, smtp_form=None, status: int = 200):
    return render_template("admin/ereceipt_settings.html", value=value, error=error, smtp=mail_settings.load(),
                           fields=mail_settings.FIELDS, security_labels=mail_settings.SECURITY_LABELS,
                           smtp_errors=smtp_errors or {}, smtp_form=smtp_form, troubled=mail_outbox.troubled(),
                           mask_address=mail_settings.mask_address), status


@bp.route("/settings/ereceipt", methods=["GET", "POST"])
@admin_required
def ereceipt_settings():
    """Show and save the public base URL; a bad URL is refused in Indonesian with nothing changed."""
    value = get_setting(PUBLIC_URL_KEY)
    if request.method == "POST":
        value = request.form.get("public_base_url", "")
        try:
            url = clean_public_url(value)
        except PublicUrlError as exc:
            return _page(value, error=str(exc), status=422)
        set_setting(PUBLIC_URL_KEY, url)
        touch_all_displays()  # a display showing "Terima kasih" redraws with (or without) the QR
        audit.record("SaveConfig", "ereceipt", detail=f"public_base_url={url}")
        db.session.commit()
        flash("Pengaturan struk digital disimpan.", "success")
        return redirect(url_for("admin.ereceipt_settings"))
    return _page(value)


@bp.route("/settings/ereceipt/smtp", methods=["POST"])
@admin_required
def ereceipt_smtp():
    """Save the SMTP settings; a blank password keeps the stored one. Audited with field names only."""
    try:
        changed = mail_settings.save(request.form)
    except mail_settings.SettingsError as exc:
        db.session.rollback()
        return _page(get_setting(PUBLIC_URL_KEY), smtp_errors=exc.errors, smtp_form=request.form, status=422)
    audit.record("SaveConfig", "email", detail=f"changed={','.join(changed) or 'nothing'}")
    db.session.commit()
    flash("Pengaturan email disimpan." if changed else "Tidak ada perubahan.", "success")
    return redirect(url_for("admin.ereceipt_settings"))


@bp.route("/settings/ereceipt/smtp/test", methods=["POST"])
@limiter.limit(lambda: current_app.config["TEST_CONNECTION_RATE_LIMIT"])
@admin_required
def ereceipt_smtp_test():
    """Tes Koneksi: connect, secure and log in with the saved settings, send nothing; say in Indonesian what failed.
    With an address in `to`, a short test mail goes there as well (Kirim Email Uji)."""
    settings = mail_settings.load()
    to = request.form.get("to", "").strip()
    try:
        if not settings.host:
            raise smtp.MailError("Isi dan simpan host SMTP terlebih dahulu.")
        if to:
            if not settings.configured:
                raise smtp.MailError("Isi dan simpan alamat pengirim terlebih dahulu.")
            smtp.send(settings, mail_outbox.trial_message(settings, to))
        else:
            smtp.check(settings)
    except mail_settings.AddressError as exc:
        result, ok = str(exc), False
    except smtp.MailError as exc:
        result, ok = exc.message, False
    else:
        connected = "Terhubung dan login berhasil." if settings.username else "Terhubung (tanpa login)."
        result, ok = ("Email uji terkirim." if to else connected), True
    action = "SendTestEmail" if to else "TestConnection"
    detail = f"to={mail_settings.mask_address(to)} " if to else ""
    audit.record(action, "email", outcome="ok" if ok else "failed", detail=f"{detail}message={result}")
    db.session.commit()
    flash(f"{'Berhasil' if ok else 'Gagal'}: {result}", "success" if ok else "error")
    return redirect(url_for("admin.ereceipt_settings"))
