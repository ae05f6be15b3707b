"""Who the shop is to a payer: the name, city and NMID shown in every QR."""
from flask import current_app

from ..settings import get_setting


def merchant_identity() -> dict[str, str]:
    """Name, city and NMID printed in every QR (uppercase, trimmed to QRIS field limits)."""
    name = get_setting("merchant_name") or get_setting("shop_name") or "TOKO KASIR"
    city = get_setting("merchant_city") or current_app.config["MERCHANT_CITY"]
    return {
        "name": name.upper()[:25],
        "city": city.upper()[:15],
        "nmid": get_setting("merchant_nmid") or "ID1020000000001",
    }
