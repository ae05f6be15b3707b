"""DOKU over BI SNAP, QRIS MPM (contracts/snap-bi.md, DOKU column): settings of the SNAP base, nothing copied."""
from flask import current_app

from .snap import SnapProvider

DOKU_URLS = {"sandbox": "https://api-sandbox.doku.com", "production": "https://api.doku.com"}


class DokuProvider(SnapProvider):
    name = "doku"
    label = "DOKU"
    token_path = "/authorization/v1/access-token/b2b"
    qr_prefix = "/snap-adapter/b2b"
    # Sources disagree between /v1.0/qr/qr-mpm-cancel and /v1.0/qr/qr-expire (check in sandbox).
    cancel_path = "/v1.0/qr/qr-mpm-cancel"
    notify_path = "/webhooks/doku"  # DOKU signs its notification with our path
    notification_auth = "hmac"  # after asking our /webhooks/doku/access-token/b2b for a token

    def generate_extras(self, reference: str, amount: int) -> dict:
        return {"terminalId": self.terminal_id}

    def refund_extras(self, payment) -> dict:
        """DOKU wants the approval code the query reported (contract)."""
        _code, data = self._query(payment)
        info = data.get("additionalInfo") if isinstance(data.get("additionalInfo"), dict) else {}
        approval = info.get("approvalCode")
        return {"additionalInfo": {"approvalCode": approval}} if isinstance(approval, str) else {}

    @classmethod
    def from_settings(cls, settings) -> "DokuProvider":
        config = current_app.config
        environment = config["DOKU_ENV"] if config["DOKU_ENV"] in DOKU_URLS else "sandbox"
        # Keys and ids: env first, else admin's sealed settings (gateway_settings); URL and channel from config.
        return cls(client_id=settings.doku_client_id, client_secret=settings.doku_secret_key,
                   private_key_pem=settings.doku_private_key, public_key_pem=settings.doku_public_key,
                   base_url=config["DOKU_BASE_URL"] or DOKU_URLS[environment], merchant_id=settings.doku_merchant_id,
                   terminal_id=settings.doku_terminal_id, channel_id=config["DOKU_CHANNEL_ID"] or "H2H",
                   timeouts=settings.timeouts, environment=environment)
