"""Admin "Pembayaran": provider, gateway keys (never shown back), Tes Koneksi, and refunds."""
from flask import current_app, flash, g, redirect, render_template, request, url_for

from .. import audit
from ..auth import admin_required
from ..extensions import db, limiter
from ..money import parse_rupiah
from ..payments import gateway_settings, health, refunds, states
from ..payments.merchant import merchant_identity
from ..payments.models import Payment
from ..payments.providers import provider_class, snap
from ..payments.providers.base import ProviderError
from ..payments.qris_text import city_from_address
from ..redaction import redact
from ..settings import get_setting
from .blueprint import bp


@bp.app_context_processor
def provider_in_templates():
    # A function, so pages that do not ask never pay for the settings lookup.
    return {"active_provider": gateway_settings.active_provider_name}


@bp.route("/payment-settings", methods=["GET", "POST"])
@admin_required
def payment_settings():
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            # PEM uploads: read here, size-capped, so the settings module stays free of Flask's file objects.
            files = {name: upload.read(gateway_settings.PEM_LIMIT + 1)
                     for name, upload in request.files.items() if upload and upload.filename}
            changed = gateway_settings.save(request.form, files)
        except gateway_settings.SettingsError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            # Names only: a secret's value, even masked, never goes into the audit log.
            audit.record("SaveConfig", "payments", detail=f"changed={','.join(changed) or 'nothing'}")
            db.session.commit()
            health.forget()
            snap.forget_tokens()  # a SNAP token cached under old keys must not outlive them
            flash("Pengaturan pembayaran disimpan." if changed else "Tidak ada perubahan.", "success")
            return redirect(url_for("admin.payment_settings"))
    settings = gateway_settings.load()
    active = gateway_settings.active_provider_name()
    return render_template("admin/payment_settings.html", settings=settings, fields=gateway_settings.FIELDS,
                           providers=gateway_settings.PROVIDER_LABELS, active=active, errors=errors,
                           form=request.form if errors else None, last_check=health.latest(active),
                           merchant=merchant_identity(), address_city=city_from_address(get_setting("shop_address"))), \
        (422 if errors else 200)


@bp.route("/payment-settings/test", methods=["POST"])
@limiter.limit(lambda: current_app.config["TEST_CONNECTION_RATE_LIMIT"])
@admin_required
def payment_settings_test():
    name = gateway_settings.active_provider_name()
    result = health.refresh(name)
    message = redact(result.message)
    audit.record("TestConnection", name, outcome="ok" if result.ok else "failed",
                 detail=f"latency_ms={result.latency_ms} message={message}")
    db.session.commit()
    flash(f"Tes koneksi {'berhasil' if result.ok else 'gagal'}: {message}", "success" if result.ok else "error")
    return redirect(url_for("admin.payment_settings"))


@bp.route("/payments/<payment_id>/refund", methods=["GET", "POST"])
@admin_required
def payment_refund(payment_id):
    payment = db.get_or_404(Payment, payment_id)
    error = None
    if request.method == "POST":
        try:
            amount = parse_rupiah(request.form.get("amount", ""))
            refunds.refund(payment, amount, request.form.get("reason", ""), actor=g.user.username)
        except (ValueError, ProviderError) as exc:  # PaymentError and money parsing are ValueErrors
            db.session.rollback()
            error = exc.message if isinstance(exc, ProviderError) else str(exc)
        else:
            flash(f"Refund {payment.order_id} tercatat.", "success")
            return redirect(url_for("admin.payment_detail", payment_id=payment.id))
        db.session.expire_all()
        payment = db.session.get(Payment, payment_id)
    return render_template("admin/payment_refund.html", payment=payment, error=error, paid=states.PAID,
                           refunded_amount=refunds.refunded_amount(payment), refunds=refunds.refunds_of(payment),
                           manual=not provider_class(payment.provider).confirms_payments), (422 if error else 200)
