"""NICEPAY over BI SNAP, QRIS MPM (contracts/snap-bi.md, NICEPAY column): settings of the SNAP base."""
from flask import current_app

from .snap import SnapProvider

NICEPAY_URLS = {"sandbox": "https://dev.nicepay.co.id/nicepay", "production": "https://www.nicepay.co.id/nicepay"}


class NicepayProvider(SnapProvider):
    name = "nicepay"
    label = "NICEPAY"
    token_path = "/v1.0/access-token/b2b"
    token_extra = {"additionalInfo": {}}
    qr_prefix = "/api"
    # The SDKs sign the path without the base's "/nicepay" (check in sandbox): "" signs the whole path.
    signature_path_strip = "/nicepay"
    cancel_path = None  # no unpaid-QR cancel: the short validityPeriod ends it; a paid one is refunded

    @property
    def channel_id(self) -> str:
        return self._channel_id or f"{self.client_id}01"

    def generate_extras(self, reference: str, amount: int) -> dict:
        return {"storeId": self.terminal_id, "additionalInfo": {"goodsNm": f"Belanja {reference}"[:100]}}

    @classmethod
    def from_settings(cls, settings) -> "NicepayProvider":
        config = current_app.config
        environment = config["NICEPAY_ENV"] if config["NICEPAY_ENV"] in NICEPAY_URLS else "sandbox"
        # Keys and ids: env first, else admin's sealed settings (gateway_settings); the URL from config.
        return cls(client_id=settings.nicepay_client_id, client_secret=settings.nicepay_client_secret,
                   private_key_pem=settings.nicepay_private_key, public_key_pem=settings.nicepay_public_key,
                   base_url=config["NICEPAY_BASE_URL"] or NICEPAY_URLS[environment],
                   merchant_id=settings.nicepay_client_id, terminal_id=settings.nicepay_store_id,
                   timeouts=settings.timeouts, environment=environment)
