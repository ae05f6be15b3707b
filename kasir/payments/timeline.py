"""A payment's history as staff read it: Indonesian event names and a one-line summary per log row.

payment_logs keep machine names ("status:paid", "cancel_confirmed") and JSON details for developers;
admin shows what happened in words, and the raw row only behind "Detail teknis".
"""
import json
from dataclasses import dataclass
from datetime import datetime

from ..money import format_rupiah
from . import states
from .models import Payment, PaymentLog
from .sync import UNCONFIRMED_CANCEL

EVENT_LABELS = {
    "created": "QR dibuat",
    "charge_resumed": "Pembuatan QR dilanjutkan",
    "cancel_confirmed": "Pembatalan dikonfirmasi gateway",
    "refund": "Refund",
}
STATUS_EVENT_LABELS = {
    states.PENDING: "QR siap dibayar", states.PAID: "Pembayaran diterima", states.EXPIRED: "Kedaluwarsa",
    states.CANCELLED: "Dibatalkan", states.FAILED: "Gagal", states.REFUNDED: "Dikembalikan seluruhnya",
}
SOURCE_LABELS = {
    "pos": "Kasir", "cashier": "Konfirmasi kasir (PIN)", "manual": "Cek Status oleh kasir", "api": "Aplikasi (API)",
    "provider": "Penyedia pembayaran", "webhook": "Notifikasi gateway", "sync": "Pemeriksaan otomatis",
    "expiry": "Batas waktu QR", "admin": "Admin",
}
WEBHOOK_STATUS_LABELS = {"PENDING": "Menunggu diproses", "OK": "Diproses", "ERROR": "Ditolak/gagal",
                         "DUPLICATE": "Kiriman ulang (diabaikan)"}
CALLBACK_EVENT_LABELS = {f"payment.{state.lower()}": label for state, label in states.LABELS.items()}


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    label: str
    summary: str
    source: str
    technical: str  # the stored row, for admins who need it


def error_text(error: str | None) -> str:
    """A payment's stored error in words: the gateway messages are Indonesian already."""
    if not error:
        return ""
    if error.startswith(UNCONFIRMED_CANCEL):
        return "Dibatalkan saat gateway tidak terjangkau; Kasir memastikan ulang ke gateway begitu terhubung."
    return error


def _detail(entry: PaymentLog) -> dict:
    try:
        detail = json.loads(entry.detail or "{}")
    except ValueError:
        return {}
    return detail if isinstance(detail, dict) else {}


def _summary(entry: PaymentLog, payment: Payment, detail: dict) -> str:
    event = entry.event
    if event == "created":
        return f"QR untuk {format_rupiah(detail.get('amount', payment.amount))}."
    if event == "refund":
        refund = detail.get("refund") or {}
        by = f" oleh {refund['by']}" if refund.get("by") else ""
        reason = f": {refund['reason']}" if refund.get("reason") else ""
        return f"{format_rupiah(refund.get('amount'))} dikembalikan{by}{reason}."
    if event == "cancel_confirmed":
        return "Gateway memastikan QR ini tidak bisa dibayar lagi."
    if event == "charge_resumed":
        return "Permintaan sebelumnya terhenti; QR diminta lagi ke gateway."
    target = entry.to_status
    if target == states.PENDING:
        return "QR tampil dan menunggu pembayaran."
    if target == states.PAID:
        late = " setelah QR kedaluwarsa/dibatalkan (terlambat)" if entry.from_status in (
            states.EXPIRED, states.CANCELLED) else ""
        return f"{format_rupiah(payment.amount)} diterima{late}."
    if target == states.EXPIRED:
        return "Waktu QR habis tanpa pembayaran."
    if target == states.CANCELLED:
        return error_text(detail.get("error")) or "QR dibatalkan; gateway memastikan belum dibayar."
    if target == states.FAILED:
        return error_text(detail.get("error")) or "Gateway menolak atau tidak bisa dihubungi."
    if target == states.REFUNDED:
        return "Semua uang pembayaran ini sudah dikembalikan."
    return ""


def label_of(entry: PaymentLog) -> str:
    if entry.event.startswith("status:"):
        return STATUS_EVENT_LABELS.get(entry.to_status, states.LABELS.get(entry.to_status or "", "Perubahan status"))
    return EVENT_LABELS.get(entry.event, "Catatan sistem")


def timeline(payment: Payment) -> list[TimelineEntry]:
    """The payment's log rows, oldest first, in words."""
    rows = []
    for entry in payment.logs:
        detail = _detail(entry)
        moved = f"{entry.from_status or '-'} → {entry.to_status or '-'}"
        rows.append(TimelineEntry(at=entry.at, label=label_of(entry), summary=_summary(entry, payment, detail),
                                  source=SOURCE_LABELS.get(entry.source, "Sistem"),
                                  technical=f"{entry.event} · {moved} · {entry.source}\n{entry.detail or ''}"[:2000]))
    return rows
