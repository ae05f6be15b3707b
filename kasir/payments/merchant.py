"""Who the shop is to a payer: the name, city and NMID shown in every QR."""
from ..settings import cached_setting
from . import gateway_settings


def merchant_identity() -> dict[str, str]:
    """Name, city and NMID printed in every QR (uppercase, trimmed to QRIS field limits), from the
    settings snapshot: a change is in the next QR of this process, another process's within seconds."""
    settings = gateway_settings.current()
    name = settings.merchant_name or cached_setting("shop_name") or "TOKO KASIR"
    return {
        "name": name.upper()[:25],
        "city": (settings.merchant_city or "JAKARTA").upper()[:15],
        "nmid": settings.merchant_nmid or "ID1020000000001",
    }
