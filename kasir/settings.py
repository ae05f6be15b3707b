"""Shop settings kept in the `settings` table, edited in admin; fields the environment can lock, secrets sealed."""
import logging
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from .crypto import DecryptionError, app_box
from .extensions import db
from .models import Setting
from .tax import TaxSettings

log = logging.getLogger(__name__)

TAX_RULE_KEY = "tax_rule"

SHOP_DEFAULTS = {
    "shop_name": "Toko Kasir",
    "shop_address": "",
    "shop_phone": "",
    "receipt_footer": "Terima kasih atas kunjungan Anda",
}


# The rows of the settings `keys`. Built once (docs/performance.md).
_SETTINGS = select(Setting).where(Setting.key.in_(bindparam("keys", expanding=True)))


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
    rows = {row.key: row.value for row in db.session.scalars(_SETTINGS, {"keys": list(SHOP_DEFAULTS)})}
    return {key: rows.get(key, default) for key, default in SHOP_DEFAULTS.items()}


def tax_settings() -> TaxSettings:
    """The shop's current tax rule (off when never set); a sale copies it when its cart is totalled."""
    return TaxSettings.from_text(get_setting(TAX_RULE_KEY))


def set_tax_settings(rule: TaxSettings) -> None:
    set_setting(TAX_RULE_KEY, rule.to_text())


@dataclass(frozen=True)
class Field:
    """A setting admin edits under `setting_key`: the environment variable `env`, when set, wins and shows locked;
    a `secret` is stored sealed with the app's secret box (kasir.crypto), bound to its setting key."""
    name: str
    setting_key: str
    env: str
    label: str
    secret: bool = False

    def environment_value(self) -> str | None:
        return os.environ.get(self.env, "").strip() or None


@dataclass(frozen=True)
class FieldValues:
    values: dict[str, str | None]  # None: neither the environment nor the table has a value
    locked: frozenset[str]  # set in the environment
    unreadable: frozenset[str]  # sealed with another encryption key: must be entered again


def read_fields(fields) -> FieldValues:
    """Each field's value right now, from the environment or the table (secrets decrypted), in one select of the
    rows the environment does not set (none when it sets them all)."""
    from_environment = {field.name: field.environment_value() for field in fields}
    keys = [field.setting_key for field in fields if from_environment[field.name] is None]
    rows = {row.key: row for row in db.session.scalars(_SETTINGS, {"keys": keys})} if keys else {}
    values, locked, unreadable, box = {}, set(), set(), None
    for field in fields:
        value = from_environment[field.name]
        if value is not None:
            locked.add(field.name)
        elif (row := rows.get(field.setting_key)) is not None and row.value:
            value = row.value
            if row.encrypted:
                box = box or app_box()
                try:
                    value = box.decrypt(row.value, context=field.setting_key)
                except DecryptionError:
                    log.warning("setting %s cannot be decrypted (encryption key changed?)", field.setting_key)
                    unreadable.add(field.name)
                    value = None
        values[field.name] = value
    return FieldValues(values=values, locked=frozenset(locked), unreadable=frozenset(unreadable))


def store_field(field: Field, value: str) -> None:
    """Put `value` in the session for the field's row: sealed when the field is a secret and the value not empty."""
    row = db.session.get(Setting, field.setting_key) or Setting(key=field.setting_key)
    if field.secret and value:
        row.value, row.encrypted = app_box().encrypt(value, context=field.setting_key), True
    else:
        row.value, row.encrypted = value, False
    db.session.add(row)
