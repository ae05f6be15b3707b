"""The shop's payment settings: provider, gateway keys and merchant details (DESIGN §6, §10, §12).

Each value comes from the environment when set there (then admin shows it locked), else from the
`settings` table (secrets sealed with AES-256-GCM, see kasir.crypto), else from the app's defaults.
Secrets leave this module only to the providers: admin gets masked hints, logs get nothing.
"""
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import current_app

from .. import qris, redaction, settings
from ..crypto import mask
from ..settings import Field, FieldValues, SettingsError, read_fields, store_field
from .qris_text import CITY_LIMIT, NAME_LIMIT, city_from_address, describe_qris_error, plain_text

PROVIDERS = ("mock", "midtrans", "xendit", "static", "doku", "nicepay")
PROVIDER_LABELS = {"mock": "Simulasi (tanpa gateway)", "midtrans": "Midtrans", "xendit": "Xendit",
                   "static": "QRIS statis toko (konfirmasi manual)", "doku": "DOKU (BI SNAP)",
                   "nicepay": "NICEPAY (BI SNAP)"}
MIDTRANS_ENVIRONMENTS = ("sandbox", "production")
MIDTRANS_URLS = {"sandbox": "https://api.sandbox.midtrans.com", "production": "https://api.midtrans.com"}
MIDTRANS_SNAP_URLS = {"sandbox": "https://app.sandbox.midtrans.com", "production": "https://app.midtrans.com"}
XENDIT_URL = "https://api.xendit.co"


@dataclass(frozen=True)
class GatewayField(Field):
    """A payment setting: with a default from the app config, or an RSA key whose variable names its file."""
    config_default: str | None = None  # app config key holding the default (generated or from .env)
    pem: str = ""  # "private" or "public": an RSA key in PEM; its env variable names a file (read at start)

    def environment_value(self) -> str | None:
        value = super().environment_value()
        if value and self.pem:  # the variable names a file, read into the app config at start
            return str(current_app.config.get(self.config_default) or "") or None
        return value


FIELDS = {field.name: field for field in (
    GatewayField("provider", "payment_provider", "PROVIDER", "Penyedia pembayaran", config_default="PROVIDER"),
    GatewayField("midtrans_env", "midtrans_env", "MIDTRANS_ENV", "Lingkungan Midtrans"),
    GatewayField("midtrans_server_key", "midtrans_server_key", "MIDTRANS_SERVER_KEY", "Server key Midtrans",
                 secret=True),
    GatewayField("xendit_secret_key", "xendit_secret_key", "XENDIT_SECRET_KEY", "Secret key Xendit", secret=True),
    GatewayField("xendit_callback_token", "xendit_callback_token", "XENDIT_CALLBACK_TOKEN", "Callback token Xendit",
                 secret=True),
    GatewayField("webhook_secret", "provider_webhook_secret", "PROVIDER_WEBHOOK_SECRET",
                 "Webhook secret (/webhooks/qris)", secret=True, config_default="PROVIDER_WEBHOOK_SECRET"),
    GatewayField("static_qris_payload", "static_qris_payload", "STATIC_QRIS_PAYLOAD", "QRIS statis toko"),
    GatewayField("merchant_name", "merchant_name", "MERCHANT_NAME", "Nama merchant"),
    GatewayField("merchant_city", "merchant_city", "MERCHANT_CITY", "Kota merchant", config_default="MERCHANT_CITY"),
    GatewayField("merchant_nmid", "merchant_nmid", "MERCHANT_NMID", "NMID"),
    # BI SNAP gateways (DESIGN §10): the app config default is what the environment or a test gave at start.
    GatewayField("doku_client_id", "doku_client_id", "DOKU_CLIENT_ID", "Client ID DOKU",
                 config_default="DOKU_CLIENT_ID"),
    GatewayField("doku_secret_key", "doku_secret_key", "DOKU_SECRET_KEY", "Secret key DOKU (HMAC)", secret=True,
                 config_default="DOKU_SECRET_KEY"),
    GatewayField("doku_merchant_id", "doku_merchant_id", "DOKU_MERCHANT_ID", "Merchant ID DOKU",
                 config_default="DOKU_MERCHANT_ID"),
    GatewayField("doku_terminal_id", "doku_terminal_id", "DOKU_TERMINAL_ID", "Terminal ID DOKU",
                 config_default="DOKU_TERMINAL_ID"),
    GatewayField("doku_private_key", "doku_private_key", "DOKU_PRIVATE_KEY_FILE", "Private key RSA toko untuk DOKU",
                 secret=True, config_default="DOKU_PRIVATE_KEY", pem="private"),
    GatewayField("doku_public_key", "doku_public_key", "DOKU_PUBLIC_KEY_FILE", "Public key RSA DOKU", secret=True,
                 config_default="DOKU_PUBLIC_KEY", pem="public"),
    GatewayField("nicepay_client_id", "nicepay_client_id", "NICEPAY_CLIENT_ID", "Client ID NICEPAY (iMid)",
                 config_default="NICEPAY_CLIENT_ID"),
    GatewayField("nicepay_client_secret", "nicepay_client_secret", "NICEPAY_CLIENT_SECRET", "Client secret NICEPAY",
                 secret=True, config_default="NICEPAY_CLIENT_SECRET"),
    GatewayField("nicepay_store_id", "nicepay_store_id", "NICEPAY_STORE_ID", "Store ID NICEPAY",
                 config_default="NICEPAY_STORE_ID"),
    GatewayField("nicepay_private_key", "nicepay_private_key", "NICEPAY_PRIVATE_KEY_FILE",
                 "Private key RSA toko untuk NICEPAY", secret=True, config_default="NICEPAY_PRIVATE_KEY",
                 pem="private"),
    GatewayField("nicepay_public_key", "nicepay_public_key", "NICEPAY_PUBLIC_KEY_FILE", "Public key RSA NICEPAY",
                 secret=True, config_default="NICEPAY_PUBLIC_KEY", pem="public"),
)}
IDENTIFIER_FIELDS = ("doku_client_id", "doku_merchant_id", "doku_terminal_id", "nicepay_client_id", "nicepay_store_id")
PEM_LIMIT = 16_000  # bytes: a 4096-bit RSA key in PEM is about 3.3 KB


@dataclass(frozen=True)
class PaymentSettings:
    values: dict[str, str]
    locked: frozenset[str]
    unreadable: frozenset[str]  # sealed with another encryption key: must be entered again

    def __getattr__(self, name: str) -> str:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def midtrans_base_url(self) -> str:
        configured = current_app.config.get("MIDTRANS_BASE_URL", "")
        return (configured or MIDTRANS_URLS[self.midtrans_environment]).rstrip("/")

    @property
    def midtrans_snap_base_url(self) -> str:
        configured = current_app.config.get("MIDTRANS_SNAP_BASE_URL", "")
        return (configured or MIDTRANS_SNAP_URLS[self.midtrans_environment]).rstrip("/")

    @property
    def midtrans_environment(self) -> str:
        return self.values["midtrans_env"] if self.values["midtrans_env"] in MIDTRANS_ENVIRONMENTS else "sandbox"

    @property
    def xendit_base_url(self) -> str:
        return (current_app.config.get("XENDIT_BASE_URL", "") or XENDIT_URL).rstrip("/")

    @property
    def timeouts(self) -> tuple[float, float]:
        return current_app.config["GATEWAY_CONNECT_TIMEOUT"], current_app.config["GATEWAY_READ_TIMEOUT"]

    def hint(self, name: str) -> str:
        if FIELDS[name].pem:
            return pem_hint(self.values[name])
        return mask(self.values[name]) if FIELDS[name].secret else self.values[name]


def pem_hint(pem: str) -> str:
    """"Kunci RSA tersimpan (…abcd)": the tail of the public key's SHA-256, never any of the PEM text."""
    if not pem:
        return ""
    try:
        public = _load_pem(pem, "private").public_key() if "PRIVATE KEY" in pem else _load_pem(pem, "public")
    except ValueError:
        return "Kunci RSA tersimpan (tidak terbaca)"
    digest = hashes.Hash(hashes.SHA256())
    digest.update(public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    return f"Kunci RSA tersimpan (…{digest.finalize().hex()[-4:]})"


def _load_pem(pem: str, kind: str):
    """The RSA key in `pem`; ValueError when it is not one (wrong kind, damaged, with a password, not RSA)."""
    try:
        if kind == "private":
            key = serialization.load_pem_private_key(pem.encode(), password=None)
        else:
            key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError) as exc:
        raise ValueError("not a PEM key") from exc
    if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        raise ValueError("not an RSA key")
    return key


def _read(fields) -> tuple[dict[str, str], FieldValues]:
    """Each field's value ("" when unset), the app config's default filling in; secrets decrypted."""
    read = read_fields(fields)
    values = {}
    for field in fields:
        value = read.values[field.name]
        if value is None and field.config_default:
            value = str(current_app.config.get(field.config_default) or "")
        values[field.name] = value or ""
        if field.secret:
            redaction.register_secret(values[field.name])
    return values, read


def load() -> PaymentSettings:
    """The settings as stored right now (decrypted): for the providers and admin's forms."""
    values, read = _read(FIELDS.values())
    return PaymentSettings(values=values, locked=read.locked, unreadable=read.unreadable)


def read(*names: str) -> dict[str, str]:
    """Just the named settings, as load() gives them, in one small select: where reading and decrypting every
    gateway key would be wasted (the QR's merchant, a webhook's secret)."""
    return _read([FIELDS[name] for name in names])[0]


def webhook_secret() -> str:
    """The secret of the generic signed webhooks (the mock gateway's and its simulator's)."""
    return read("webhook_secret")["webhook_secret"]


def active_provider_name() -> str:
    """The provider new payments use: PROVIDER from the environment, else admin's choice, else the app config's
    PROVIDER, else mock."""
    return read("provider")["provider"] or "mock"


def _clean_secret(name: str, value: str, errors: dict[str, str]) -> str:
    value = value.strip()
    if any(char.isspace() for char in value) or len(value) > 200:
        errors[name] = f"{FIELDS[name].label} tidak valid (tanpa spasi, maksimal 200 karakter)."
    elif name == "midtrans_server_key" and value.startswith(("SB-Mid-client-", "Mid-client-")):
        errors[name] = "Itu client key. Tempel server key Midtrans (SB-Mid-server-… atau Mid-server-…)."
    elif name == "xendit_secret_key" and value.startswith("xnd_public_"):
        errors[name] = "Itu public key. Tempel secret key Xendit (xnd_development_… atau xnd_production_…)."
    return value


MERCHANT_LIMITS = {"merchant_name": NAME_LIMIT, "merchant_city": CITY_LIMIT, "merchant_nmid": 30}
MERCHANT_LIMIT_REASONS = {"merchant_name": "batas QRIS untuk nama merchant", "merchant_city": "batas QRIS untuk kota",
                          "merchant_nmid": "panjang NMID"}


def _clean_merchant_field(name: str, raw: str, errors: dict[str, str]) -> str:
    """Name, city or NMID as the QR will carry it; too long is refused with the limit, never cut."""
    value = plain_text(raw)
    limit = MERCHANT_LIMITS[name]
    if len(value) > limit:
        errors[name] = (f"{FIELDS[name].label} paling banyak {limit} karakter ({MERCHANT_LIMIT_REASONS[name]}); "
                        f"sekarang {len(value)}. Singkat sendiri agar tetap terbaca.")
    elif name == "merchant_city" and not value and not city_from_address(settings.get_setting("shop_address")):
        errors[name] = ("Isi kota merchant (tampil di QR, maks. 15 karakter), misalnya DEPOK. Alamat toko di "
                        "Pengaturan Toko tidak menyebut kotanya.")
    return value.upper() if name == "merchant_city" else value


def _check_static_payload(text: str) -> str:
    # Line breaks from pasting go; inner spaces stay (a merchant name like "TOKO CONTOH" has them).
    payload = "".join(line.strip() for line in text.splitlines())
    parsed = qris.parse(payload)  # QrisError carries the precise reason
    if parsed.is_dynamic:
        raise qris.QrisError("the payload is dynamic (for one payment); the shop's printed static QRIS is needed")
    return payload


def _clean_identifier(name: str, raw: str, errors: dict[str, str]) -> str:
    value = raw.strip()
    if any(char.isspace() for char in value) or len(value) > 64:
        errors[name] = f"{FIELDS[name].label} tidak valid (tanpa spasi, maksimal 64 karakter)."
    return value


def _clean_pem(name: str, raw: str, errors: dict[str, str]) -> str:
    """A pasted or uploaded RSA key of the right kind, as normalised PEM text; anything else is refused."""
    kind = FIELDS[name].pem
    text = raw.strip().replace("\r\n", "\n")
    try:
        if len(text) > PEM_LIMIT:
            raise ValueError("too long")
        _load_pem(text, kind)
    except ValueError:
        header = "-----BEGIN PRIVATE KEY-----" if kind == "private" else "-----BEGIN PUBLIC KEY-----"
        adjective = "privat" if kind == "private" else "publik"
        errors[name] = (f"{FIELDS[name].label} tidak valid: harus kunci RSA {adjective} dalam format PEM "
                        f"({header} …) tanpa kata sandi.")
        return ""
    return text + "\n"


def save(form, files=None) -> list[str]:
    """Store admin's form: blank secret = keep the old one, `clear_<name>` removes it. Returns changed names.

    `files` maps a PEM field's name to uploaded bytes (admin's file input); an upload wins over a paste.
    """
    files = files or {}
    current = load()
    errors: dict[str, str] = {}
    updates: dict[str, str] = {}

    for name, field in FIELDS.items():
        if name in current.locked or name not in form and name not in files and f"clear_{name}" not in form:
            continue
        raw = form.get(name, "")
        if field.pem:
            upload = files.get(name) or b""
            raw = upload.decode("utf-8", errors="replace") if upload else raw
            if form.get(f"clear_{name}") == "1":
                updates[name] = ""
            elif raw.strip():
                updates[name] = _clean_pem(name, raw, errors)
        elif field.secret:
            if form.get(f"clear_{name}") == "1":
                updates[name] = ""
            elif raw.strip():
                updates[name] = _clean_secret(name, raw, errors)
        elif name == "provider":
            if raw not in PROVIDERS:
                errors[name] = "Pilih penyedia pembayaran yang tersedia."
            updates[name] = raw
        elif name == "midtrans_env":
            if raw not in MIDTRANS_ENVIRONMENTS:
                errors[name] = "Pilih Sandbox atau Production."
            updates[name] = raw
        elif name == "static_qris_payload":
            if raw.strip():
                try:
                    updates[name] = _check_static_payload(raw)
                except qris.QrisError as exc:
                    errors[name] = f"QRIS statis tidak valid: {describe_qris_error(exc)}."
            else:
                updates[name] = ""
        elif name in IDENTIFIER_FIELDS:
            updates[name] = _clean_identifier(name, raw, errors)
        else:
            updates[name] = _clean_merchant_field(name, raw, errors)

    merged = {**current.values, **updates}
    _check_provider_ready(merged, errors)
    if errors:
        raise SettingsError(errors)
    changed = [name for name, value in updates.items() if value != current.values.get(name)]
    for name in changed:
        store_field(FIELDS[name], updates[name])
        if FIELDS[name].secret:
            redaction.register_secret(updates[name])
    return changed


def _check_provider_ready(values: dict[str, str], errors: dict[str, str]) -> None:
    """Refuse a provider that cannot work with what is saved: the till would fail at the first QR."""
    provider = values.get("provider")
    server_key = values.get("midtrans_server_key", "")
    if provider == "midtrans" and not server_key:
        errors.setdefault("midtrans_server_key", "Isi server key Midtrans untuk memakai Midtrans.")
    if provider == "midtrans" and server_key:
        if values.get("midtrans_env") == "production" and server_key.startswith("SB-"):
            errors.setdefault("midtrans_env", "Server key sandbox (SB-…) tidak bisa dipakai di Production.")
        if values.get("midtrans_env") != "production" and server_key.startswith("Mid-server-"):
            errors.setdefault("midtrans_env", "Server key production tidak bisa dipakai di Sandbox.")
    if provider == "xendit":
        if not values.get("xendit_secret_key"):
            errors.setdefault("xendit_secret_key", "Isi secret key Xendit untuk memakai Xendit.")
        if not values.get("xendit_callback_token"):
            errors.setdefault("xendit_callback_token", "Isi callback token Xendit agar pembayaran terkonfirmasi.")
    snap_secrets = (("doku", "DOKU", "doku_secret_key"), ("nicepay", "NICEPAY", "nicepay_client_secret"))
    for gateway, label, secret in snap_secrets:
        if provider == gateway:
            for name in (f"{gateway}_client_id", secret, f"{gateway}_private_key"):
                if not values.get(name):
                    errors.setdefault(name, f"Isi {FIELDS[name].label} untuk memakai {label}.")
    if provider == "static" and not values.get("static_qris_payload"):
        errors.setdefault("static_qris_payload", "Tempel isi QRIS statis toko untuk memakai QRIS statis.")
