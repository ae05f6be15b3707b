"""The mock gateway: real QRIS strings and its own ledger; the /simulator page plays the customer."""
import secrets
from datetime import date, datetime

from flask import current_app, has_request_context, url_for
from sqlalchemy import bindparam, select

from ... import qris
from ...clock import business_date, utcnow
from ...database import write_transaction
from ...extensions import db
from .. import gateway_settings, methods, states
from ..merchant import merchant_identity
from ..models import MockLedgerEntry
from ..qris_text import MISSING_CITY
from . import generic
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

# The open entry already made for a reference and amount. Built once (docs/performance.md).
_OPEN_ENTRY = select(MockLedgerEntry).where(MockLedgerEntry.reference == bindparam("reference"),
                                            MockLedgerEntry.amount == bindparam("amount"),
                                            MockLedgerEntry.status == states.PENDING).limit(1)


def build_payload(amount: int, trx_id: str) -> str:
    merchant = merchant_identity()
    return qris.build([
        ("00", "01"),
        ("01", "12"),
        ("26", [("00", "ID.CO.KASIR.MOCK"), ("01", "936000990000000001"), ("02", "KASIRMOCK001"), ("03", "UMI")]),
        ("51", [("00", "ID.CO.QRIS.WWW"), ("02", merchant["nmid"]), ("03", "UMI")]),
        ("52", "5411"),
        ("53", "360"),
        ("54", str(amount)),
        ("58", "ID"),
        ("59", merchant["name"]),
        ("60", merchant["city"] or MISSING_CITY),
        ("62", [("01", trx_id[:25])]),
    ])


class MockProvider(Provider):
    name = "mock"
    charges_online = False  # its ledger is in our database
    methods = frozenset(methods.METHODS)

    def create_qr(self, reference: str, amount: int, expires_at: datetime) -> Charge:
        return self._ledger_charge(reference, amount, expires_at)

    def create_charge(self, method: str, reference: str, amount: int, expires_at: datetime, **options) -> Charge:
        """Every method is one ledger entry the /simulator page pays or expires; a VA's number comes from its id."""
        if method == methods.VA:
            bank = options.get("bank") or ""
            if bank not in methods.BANKS:
                raise ProviderError("Bank VA ini tidak didukung.", code="bank_not_supported")
            charge = self._ledger_charge(reference, amount, expires_at)
            number = "8808" + f"{int(charge.provider_trx_id.removeprefix('MOCK-'), 16) % 10**12:012d}"
            va = {"bank": bank, "number": number, **({"biller_code": "70012"} if bank == "mandiri" else {})}
            return Charge(qr_string=None, provider_trx_id=charge.provider_trx_id, expires_at=charge.expires_at,
                          raw=charge.raw, instructions={"va": va})
        if method == methods.LINK:
            charge = self._ledger_charge(reference, amount, expires_at)
            path = f"/simulator?trx={charge.provider_trx_id}"
            url = url_for("simulator.index", trx=charge.provider_trx_id, _external=True) \
                if has_request_context() else path
            return Charge(qr_string=None, provider_trx_id=charge.provider_trx_id, expires_at=charge.expires_at,
                          raw=charge.raw, instructions={"payment_url": url})
        return super().create_charge(method, reference, amount, expires_at, **options)

    def _ledger_charge(self, reference: str, amount: int, expires_at: datetime) -> Charge:
        # Like the real gateways, one transaction per reference: a repeated charge gets the one already made.
        # The check and the insert share one write transaction, so two charges at once cannot both insert.
        # The gateway's own books (in the caller's transaction, if there is one) never read our rows: the check
        # need not flush them.
        with write_transaction(), db.session.no_autoflush:
            entry = db.session.scalar(_OPEN_ENTRY, {"reference": reference, "amount": amount})
            if entry is None:
                trx_id = "MOCK-" + secrets.token_hex(8).upper()
                entry = MockLedgerEntry(provider_trx_id=trx_id, reference=reference, amount=amount,
                                        status=states.PENDING, qr_string=build_payload(amount, trx_id),
                                        expires_at=expires_at, created_at=utcnow())
                db.session.add(entry)
            trx_id, qr_string, expires_at = entry.provider_trx_id, entry.qr_string, entry.expires_at
        return Charge(qr_string=qr_string, provider_trx_id=trx_id, expires_at=expires_at,
                      raw={"transaction_id": trx_id, "status": "PENDING"})

    def _entry(self, payment) -> MockLedgerEntry | None:
        return db.session.get(MockLedgerEntry, payment.provider_trx_id) if payment.provider_trx_id else None

    def fetch_status(self, payment) -> ProviderStatus:
        entry = self._entry(payment)
        if entry is None:
            return ProviderStatus(status=states.FAILED, raw={"error": "unknown transaction"})
        if entry.status == states.PENDING and entry.expires_at <= utcnow():
            entry.status = states.EXPIRED
            db.session.commit()
        return ProviderStatus(status=entry.status, amount=entry.amount, paid_at=entry.paid_at, ref_no=entry.ref_no,
                              raw={"transaction_id": entry.provider_trx_id, "status": entry.status})

    def cancel(self, payment) -> ProviderStatus:
        entry = self._entry(payment)
        if entry is not None and entry.status == states.PENDING:
            entry.status = states.CANCELLED
            db.session.commit()
        return self.fetch_status(payment)

    def refund(self, payment, amount: int, reason: str, refund_key: str) -> ProviderStatus:
        entry = self._entry(payment)
        if entry is None or entry.status != states.PAID:
            raise ProviderError("Simulator: transaksi ini belum lunas di gateway.", code="refund_refused")
        # Like the gateways, partial refunds may follow one another; the QR is refunded once all is given back.
        given = sum(int(item["amount"]) for item in (payment.meta or {}).get("refunds", ()))
        if given + amount > entry.amount:
            raise ProviderError("Simulator: refund melebihi nominal yang dibayar.", code="refund_refused")
        if given + amount == entry.amount:
            entry.status = states.REFUNDED
        db.session.commit()
        return ProviderStatus(status=states.REFUNDED, amount=amount, raw={"transaction_id": entry.provider_trx_id})

    def parse_webhook(self, headers, raw_body: bytes) -> WebhookEvent:
        try:
            event_id = generic.verify(headers, raw_body, gateway_settings.webhook_secret(),
                                      tolerance=current_app.config["WEBHOOK_TOLERANCE_SECONDS"])
        except generic.SignatureError as exc:
            raise WebhookRejected(str(exc)) from None
        return generic.parse_body(event_id, raw_body)

    def read_event(self, event_id: str, raw_body: bytes) -> WebhookEvent:
        return generic.parse_body(event_id, raw_body)

    def fetch_settlement(self, day: date) -> list[SettlementRow]:
        rows = db.session.scalars(db.select(MockLedgerEntry).where(MockLedgerEntry.status == states.PAID))
        return [SettlementRow(provider_trx_id=row.provider_trx_id, order_id=row.reference, amount=row.amount,
                              fee=row.amount * 7 // 1000, net_amount=row.amount - row.amount * 7 // 1000,
                              settlement_date=day, status="settlement")
                for row in rows if row.paid_at and business_date(row.paid_at) == day]

    def test_connection(self) -> ConnectionResult:
        return ConnectionResult(ok=True, latency_ms=0, message="Mode simulasi aktif (tanpa gateway sungguhan).")

    # The simulator's side: what the customer's banking app would cause at the gateway.
    def settle(self, entry: MockLedgerEntry, outcome: str) -> dict:
        if outcome == "SUCCESS":
            entry.status, entry.paid_at = states.PAID, utcnow()
            entry.ref_no = entry.ref_no or f"{secrets.randbelow(10**12):012d}"
        else:
            entry.status = generic.STATUSES[outcome]
        db.session.commit()
        return {"trx_id": entry.provider_trx_id, "order_id": entry.reference, "amount": entry.amount,
                "status": outcome, "ref_no": entry.ref_no}
