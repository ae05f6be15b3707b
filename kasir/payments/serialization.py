"""Payments as the API shows them (DESIGN §7): times in ISO 8601 with +07:00."""
from datetime import datetime

from ..clock import to_wib
from ..payments.models import Payment


def iso_wib(moment: datetime | None) -> str | None:
    return to_wib(moment).isoformat(timespec="seconds") if moment else None


def method_fields(payment) -> dict:
    """What the payer needs for the payment's method: its QR, its VA, or its payment page (DESIGN §7)."""
    method, instructions = payment.method or "qris", payment.instructions or {}
    if method == "va":
        va = instructions.get("va") or {}
        return {"va": {"bank": va.get("bank"), "number": va.get("number"), "biller_code": va.get("biller_code")}}
    if method == "link":
        return {"payment_url": instructions.get("payment_url")}
    return {"qr_string": payment.qr_string}


def payment_json(payment) -> dict:
    return {
        "payment_id": payment.id,
        "order_id": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status,
        "method": payment.method or "qris",
        **method_fields(payment),
        "expires_at": iso_wib(payment.expires_at),
        "provider": payment.provider,
        "provider_trx_id": payment.provider_trx_id,
        "provider_ref_no": payment.provider_ref_no,
        "paid_at": iso_wib(payment.paid_at),
        "late": payment.late,
        "callback_url": payment.callback_url,
        "metadata": payment.meta,
        "created_at": iso_wib(payment.created_at),
        "updated_at": iso_wib(payment.updated_at),
    }


# The attributes payment_json reads, for a read that skips the ORM (kasir.api.routes.get_payment).
PAYMENT_COLUMNS = {name: getattr(Payment, name) for name in (
    "id", "order_id", "amount", "currency", "status", "method", "instructions", "qr_string",
    "expires_at", "provider", "provider_trx_id",
    "provider_ref_no", "paid_at", "late", "callback_url", "meta", "created_at", "updated_at")}
