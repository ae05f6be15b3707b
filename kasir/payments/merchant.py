"""Who the shop is to a payer: the name, city and NMID shown in every QR."""
from ..settings import get_setting
from . import gateway_settings


def merchant_identity() -> dict[str, str]:
    """Name, city and NMID printed in every QR (uppercase, trimmed to QRIS field limits)."""
    settings = gateway_settings.load()
    name = settings.merchant_name or get_setting("shop_name") or "TOKO KASIR"
    return {
        "name": name.upper()[:25],
        "city": (settings.merchant_city or "JAKARTA").upper()[:15],
        "nmid": settings.merchant_nmid or "ID1020000000001",
    }
