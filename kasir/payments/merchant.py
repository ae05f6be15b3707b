"""Who the shop is to a payer: the name, city and NMID shown in every QR.

Admin's forms refuse a merchant name or city longer than QRIS allows and say so; a name that comes
from the shop's own name (which may be longer) is shortened at a word boundary, and admin shows the
result. The city is never guessed: it is the one admin typed, or the city the shop's address ends with.
"""
from .. import qris
from ..settings import shop_profile
from . import gateway_settings
from .qris_text import CITY_LIMIT, NAME_LIMIT, city_from_address, plain_text, shorten

MERCHANT_FIELDS = ("merchant_name", "merchant_city", "merchant_nmid")


def merchant_identity() -> dict[str, str]:
    """Name, city and NMID printed in every QR (uppercase, within QRIS field limits), as the settings are
    now: a change is in the next QR. "city" is "" while neither admin nor the shop's address gives one."""
    return _identity(gateway_settings.read(*MERCHANT_FIELDS))


def _identity(merchant: dict[str, str]) -> dict[str, str]:
    name, city = plain_text(merchant["merchant_name"]), plain_text(merchant["merchant_city"]).upper()[:CITY_LIMIT]
    if not (name and city):  # the shop's own name and address fill in
        shop = shop_profile()
        name, city = name or plain_text(shop["shop_name"]), city or city_from_address(shop["shop_address"])
    return {
        "name": shorten((name or "TOKO KASIR").upper(), NAME_LIMIT),
        "city": city,
        "nmid": merchant["merchant_nmid"] or "ID1020000000001",
    }


def qr_identity(qr_string: str) -> dict[str, str | None]:
    """Whom a QR pays, as the payer's app will show it: the name and NMID in the payload itself (a gateway's
    QR carries the gateway's merchant record), else the shop's settings; no NMID when neither has one."""
    merchant = gateway_settings.read(*MERCHANT_FIELDS)
    fallback = {"name": _identity(merchant)["name"], "nmid": merchant["merchant_nmid"] or None}
    try:
        payload = qris.parse(qr_string)
    except qris.QrisError:  # a provider whose QR is not QRIS-shaped (a test double): the settings speak
        return fallback
    return {"name": payload.merchant_name or fallback["name"], "nmid": payload.nmid or fallback["nmid"]}
