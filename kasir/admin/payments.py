"""Admin: payments (filter, detail with timeline, CSV), callback deliveries and API keys."""
from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for

from .. import audit
from ..api import callbacks, keys
from ..api.models import Callback
from ..auth import admin_required
from ..extensions import db
from ..payments import service, states, timeline
from ..payments.models import Payment, WebhookDelivery
from ..reports.payments import PaymentFilter, export_csv, providers_in_use
from .blueprint import bp

PAGE_SIZE = 50


@bp.route("/payments")
@admin_required
def payment_list():
    payment_filter = PaymentFilter.from_args(request.args)
    page = max(request.args.get("page", 1, type=int), 1)
    pagination = db.paginate(payment_filter.query(), page=page, per_page=PAGE_SIZE, error_out=False)
    return render_template("admin/payments.html", pagination=pagination, filter=payment_filter,
                           statuses=states.ALL_STATES, labels=states.LABELS, providers=providers_in_use())


@bp.route("/payments/export.csv")
@admin_required
def payment_export():
    payment_filter = PaymentFilter.from_args(request.args)
    return Response(stream_with_context(export_csv(payment_filter)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=pembayaran.csv"})


@bp.route("/payments/<payment_id>")
@admin_required
def payment_detail(payment_id):
    payment = db.get_or_404(Payment, payment_id)
    webhooks = db.session.scalars(db.select(WebhookDelivery).where(WebhookDelivery.payment_id == payment.id)
                                  .order_by(WebhookDelivery.received_at)).all()
    outbox = db.session.scalars(db.select(Callback).where(Callback.payment_id == payment.id)
                                .order_by(Callback.id)).all()
    return render_template("admin/payment_detail.html", payment=payment, webhooks=webhooks, callbacks=outbox,
                           history=timeline.timeline(payment), error_text=timeline.error_text,
                           webhook_labels=timeline.WEBHOOK_STATUS_LABELS,
                           callback_labels=timeline.CALLBACK_EVENT_LABELS,
                           refunds=service.refunds_of(payment), refunded_amount=service.refunded_amount(payment))


@bp.route("/callbacks/<int:callback_id>/retry", methods=["POST"])
@admin_required
def callback_retry(callback_id):
    callback = db.get_or_404(Callback, callback_id)
    callbacks.retry_now(callback)
    audit.record("RetryCallback", f"{callback.payment_id} #{callback.id}")
    db.session.commit()
    flash("Callback akan dikirim ulang dalam beberapa detik.", "success")
    return redirect(url_for("admin.payment_detail", payment_id=callback.payment_id))


@bp.route("/api-keys", methods=["GET", "POST"])
@admin_required
def api_keys():
    error = token = None
    if request.method == "POST":
        try:
            key, token = keys.create_key(request.form.get("name", ""))
        except keys.ApiKeyError as exc:
            error = str(exc)
        else:
            audit.record("CreateApiKey", f"{key.prefix} {key.name}")
            db.session.commit()
    return render_template("admin/api_keys.html", keys=keys.list_keys(), token=token,
                           error=error), (422 if error else 200)


@bp.route("/api-keys/<prefix>/revoke", methods=["POST"])
@admin_required
def api_key_revoke(prefix):
    try:
        key = keys.revoke_key(prefix)
    except keys.ApiKeyError as exc:
        flash(str(exc), "error")
    else:
        audit.record("RevokeApiKey", f"{key.prefix} {key.name}")
        db.session.commit()
        flash(f"API key {key.prefix} dicabut.", "success")
    return redirect(url_for("admin.api_keys"))
