"""Who the shop is to a payer: the name, city and NMID shown in every QR."""
from .. import qris
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


def qr_identity(qr_string: str) -> dict[str, str | None]:
    """Whom a QR pays, as the payer's app will show it: the name and NMID in the payload itself (a gateway's
    QR carries the gateway's merchant record), else the shop's settings; no NMID when neither has one."""
    settings = gateway_settings.current()
    fallback = {"name": merchant_identity()["name"], "nmid": settings.merchant_nmid or None}
    try:
        payload = qris.parse(qr_string)
    except qris.QrisError:  # a provider whose QR is not QRIS-shaped (a test double): the settings speak
        return fallback
    return {"name": payload.merchant_name or fallback["name"], "nmid": payload.nmid or fallback["nmid"]}
