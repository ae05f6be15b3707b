"""The shop's SMTP settings (admin "Struk Digital") and the e-mail address rules.

Like the gateway keys (kasir.payments.gateway_settings): a value set in the environment wins and shows
locked in admin; else the `settings` table, the password sealed with the app's secret box (kasir.crypto)
under its setting key. The password leaves this module only to the SMTP client: admin sees that one is stored.
"""
import re
from dataclasses import dataclass

from .. import redaction
from ..settings import Field, SettingsError, read_fields, store_field

SECURITY_LABELS = {"starttls": "STARTTLS (port 587)", "ssl": "SSL/TLS (port 465)", "none": "Tanpa enkripsi"}
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


FIELDS = {field.name: field for field in (
    Field("host", "smtp_host", "SMTP_HOST", "Host SMTP"),
    Field("port", "smtp_port", "SMTP_PORT", "Port"),
    Field("security", "smtp_security", "SMTP_SECURITY", "Keamanan koneksi"),
    Field("username", "smtp_username", "SMTP_USERNAME", "Nama pengguna"),
    Field("password", "smtp_password", "SMTP_PASSWORD", "Kata sandi", secret=True),
    Field("sender_address", "smtp_sender_address", "SMTP_FROM", "Alamat pengirim"),
    Field("sender_name", "smtp_sender_name", "SMTP_FROM_NAME", "Nama pengirim"),
)}

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*$|^\[?[0-9A-Fa-f:.]{2,45}\]?$")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                     r"[A-Za-z0-9])?)+$")


class AddressError(ValueError):
    """Not a usable e-mail address; the message is shown to the cashier or the admin."""


def clean_address(text: str) -> str:
    """An e-mail address as typed, trimmed; AddressError (in Indonesian) for anything a mail server would refuse
    or that could smuggle a second header or recipient."""
    address = (text or "").strip()
    local, at, domain = address.rpartition("@")
    if (not at or len(address) > 254 or len(local) > 64 or not _LOCAL.match(local) or not _DOMAIN.match(domain)
            or not domain.rsplit(".", 1)[-1].isalpha()):
        raise AddressError("Alamat email tidak valid. Contoh: nama@contoh.com")
    return address


def mask_address(address: str) -> str:
    """`b***@example.com`: what logs carry of a customer's address (never the whole of it)."""
    local, _, domain = (address or "").rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "***"


@dataclass(frozen=True)
class SmtpSettings:
    values: dict[str, str]
    locked: frozenset[str]
    unreadable: frozenset[str]  # the password was sealed with another encryption key: enter it again

    @property
    def host(self) -> str:
        return self.values["host"]

    @property
    def security(self) -> str:
        return self.values["security"] if self.values["security"] in SECURITY_LABELS else "starttls"

    @property
    def port(self) -> int:
        value = self.values["port"]
        return int(value) if value.isdigit() else DEFAULT_PORTS[self.security]

    @property
    def username(self) -> str:
        return self.values["username"]

    @property
    def password(self) -> str:
        return self.values["password"]

    @property
    def sender_address(self) -> str:
        return self.values["sender_address"]

    @property
    def sender_name(self) -> str:
        return self.values["sender_name"]

    @property
    def configured(self) -> bool:
        """Enough to send: a server and a sender. Without them the till offers no "Kirim via Email"."""
        return bool(self.host and self.sender_address)

    @property
    def password_hint(self) -> str:
        """Only that a password is stored: crypto.mask shows a key's kind and tail, too much of a password."""
        return "********" if self.password else ""


def load() -> SmtpSettings:
    """The settings in force right now (password decrypted): for the SMTP client and admin's form."""
    read = read_fields(FIELDS.values())
    values = {name: value or "" for name, value in read.values.items()}
    redaction.register_secret(values["password"])
    return SmtpSettings(values=values, locked=read.locked, unreadable=read.unreadable)


def _clean(name: str, raw: str, errors: dict[str, str]) -> str:
    value = (raw or "").strip()
    if name == "host":
        if value and not _HOST.match(value):
            errors[name] = "Host SMTP tidak valid. Contoh: smtp.gmail.com"
    elif name == "port":
        if value and not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
            errors[name] = "Port harus angka 1 sampai 65535, misalnya 587."
    elif name == "security":
        if value not in SECURITY_LABELS:
            errors[name] = "Pilih keamanan koneksi: STARTTLS, SSL/TLS atau tanpa enkripsi."
    elif name == "sender_address":
        if value:
            try:
                value = clean_address(value)
            except AddressError:
                errors[name] = "Alamat pengirim tidak valid. Contoh: struk@toko.example.id"
    elif len(value) > (80 if name == "sender_name" else 200) or any(not char.isprintable() for char in value):
        errors[name] = f"{FIELDS[name].label} terlalu panjang atau berisi karakter yang tidak diizinkan."
    return value


def save(form) -> list[str]:
    """Store admin's form: a blank password keeps the stored one, `clear_password` removes it. Returns the names
    of the fields that changed (never their values: the audit log gets names only). SettingsError, nothing
    stored, when a field is refused or a server is named without a sender."""
    current = load()
    errors: dict[str, str] = {}
    updates: dict[str, str] = {}
    for name, field in FIELDS.items():
        if name in current.locked:
            continue
        if field.secret:
            if form.get(f"clear_{name}") == "1":
                updates[name] = ""
            elif (form.get(name) or "").strip():
                updates[name] = _clean(name, form.get(name), errors)
        elif name in form:
            updates[name] = _clean(name, form.get(name), errors)
    merged = {**current.values, **updates}
    if merged["host"] and not merged["sender_address"] and "sender_address" not in errors:
        errors["sender_address"] = "Isi alamat pengirim, misalnya struk@toko.example.id."
    if errors:
        raise SettingsError(errors)
    changed = [name for name, value in updates.items() if value != current.values.get(name)]
    for name in changed:
        store_field(FIELDS[name], updates[name])
    redaction.register_secret(merged["password"])
    return changed
