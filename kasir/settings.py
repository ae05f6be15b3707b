"""Shop settings kept in the `settings` table, edited in admin."""
from .extensions import db
from .models import Setting
from .tax import TaxSettings

TAX_RULE_KEY = "tax_rule"

SHOP_DEFAULTS = {
    "shop_name": "Toko Kasir",
    "shop_address": "",
    "shop_phone": "",
    "receipt_footer": "Terima kasih atas kunjungan Anda",
}


class SettingsError(ValueError):
    """Settings refused as a whole: `errors` maps each field to its Indonesian message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def get_setting(key: str, default: str = "") -> str:
    row = db.session.get(Setting, key)
    return row.value if row else default


def set_setting(key: str, value: str) -> None:
    row = db.session.get(Setting, key) or Setting(key=key)
    row.value = value
    db.session.add(row)


def shop_profile() -> dict[str, str]:
    rows = {row.key: row.value for row in db.session.scalars(db.select(Setting).where(Setting.key.in_(SHOP_DEFAULTS)))}
    return {key: rows.get(key, default) for key, default in SHOP_DEFAULTS.items()}


def tax_settings() -> TaxSettings:
    """The shop's current tax rule (off when never set); a sale copies it when its cart is totalled."""
    return TaxSettings.from_text(get_setting(TAX_RULE_KEY))


def set_tax_settings(rule: TaxSettings) -> None:
    set_setting(TAX_RULE_KEY, rule.to_text())
