"""The shop's own printed static QRIS, made dynamic for the exact amount (DESIGN §5, §6).

No gateway stands behind it: nothing tells us a payment arrived. The cashier checks the shop's phone
and confirms "Sudah Dibayar" with their PIN (kasir.payments.service.confirm_by_cashier), which is audited.
"""
import secrets
from datetime import date, datetime

from ... import qris
from .. import states
from ..qris_text import describe_qris_error
from .base import (
    Charge,
    ConnectionResult,
    Provider,
    ProviderError,
    ProviderStatus,
    SettlementRow,
    WebhookEvent,
    WebhookRejected,
)


class StaticQrisProvider(Provider):
    name = "static"
    refunds_payer = False  # refund() records money the shop sent back itself
    confirms_payments = False
    charges_online = False  # the QR is the shop's own, made dynamic here

    def __init__(self, payload: str):
        self._payload = payload

    @classmethod
    def from_settings(cls, settings) -> "StaticQrisProvider":
        return cls(settings.static_qris_payload)

    def create_qr(self, reference: str, amount: int, expires_at: datetime, **_options) -> Charge:
        if not self._payload:
            raise ProviderError("QRIS statis toko belum diatur di Pengaturan Pembayaran.",
                                code="provider_not_configured")
        try:
            payload = qris.to_dynamic(self._payload, amount)
        except qris.QrisError as exc:
            raise ProviderError(f"QRIS statis toko tidak valid ({describe_qris_error(exc)}). Periksa di Admin › "
                                "Pengaturan Pembayaran.", code="provider_not_configured") from None
        trx_id = "STATIC-" + secrets.token_hex(8).upper()
        return Charge(qr_string=payload, provider_trx_id=trx_id, expires_at=expires_at,
                      raw={"transaction_id": trx_id, "source": "static"})

    def fetch_status(self, payment) -> ProviderStatus:
        return ProviderStatus(status=states.PENDING, raw={"source": "static", "note": "no gateway to ask"})

    def cancel(self, payment) -> ProviderStatus:
        # The printed QR stays payable; a payment after cancelling can only be confirmed by the cashier (late).
        return ProviderStatus(status=states.CANCELLED, raw={"source": "static"})

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        # The shop sends the money back itself (its bank app or cash); we record that it did.
        return ProviderStatus(status=states.REFUNDED, amount=amount, raw={"source": "static", "manual": True})

    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent:
        raise WebhookRejected("a static QRIS has no webhook")

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        raise WebhookRejected("a static QRIS has no webhook")

    def fetch_settlement(self, day: date) -> list[SettlementRow]:
        return []

    def test_connection(self) -> ConnectionResult:
        if not self._payload:
            return ConnectionResult(ok=False, latency_ms=None, message="QRIS statis toko belum diatur.")
        try:
            parsed = qris.parse(self._payload)
        except qris.QrisError as exc:
            return ConnectionResult(ok=False, latency_ms=None,
                                    message=f"QRIS statis tidak valid: {describe_qris_error(exc)}.")
        nmid = f", NMID {parsed.nmid}" if parsed.nmid else ""
        return ConnectionResult(ok=True, latency_ms=0,
                                message=f"QRIS statis valid: {parsed.merchant_name}, {parsed.merchant_city}{nmid}. "
                                        "Pembayaran dikonfirmasi kasir.")
