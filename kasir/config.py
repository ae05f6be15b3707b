"""Settings from the environment (DESIGN §10), with defaults that work on a fresh shop PC."""
import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_file_text(name: str) -> str:
    """The text of the file an environment variable names (a PEM key), or "" when unset."""
    path = os.environ.get(name, "").strip()
    return Path(path).read_text() if path else ""


def instance_path() -> Path:
    configured = os.environ.get("KASIR_INSTANCE_PATH")
    path = Path(configured) if configured else PROJECT_ROOT / "instance"
    return path.resolve()


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return a hex secret kept in `path`, creating it (mode 0600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(nbytes)
    # O_EXCL: two processes starting at once must not overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


class Config:
    """Read once per app; tests pass overrides to create_app instead of touching os.environ."""

    def __init__(self, instance: Path):
        self.HOST = os.environ.get("HOST", "127.0.0.1")
        self.PORT = env_int("PORT", 9000)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or read_or_create_secret(instance / "secret_key")
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'kasir.db'}"
        self.PROVIDER = os.environ.get("PROVIDER", "mock")
        self.PROVIDER_WEBHOOK_SECRET = os.environ.get("PROVIDER_WEBHOOK_SECRET") or read_or_create_secret(
            instance / "webhook_secret")
        self.WEBHOOK_TOLERANCE_SECONDS = 300
        # Gateway keys kept in the settings table are sealed with this (kasir.crypto); env or instance file.
        self.KASIR_ENCRYPTION_KEY = os.environ.get("KASIR_ENCRYPTION_KEY") or read_or_create_secret(
            instance / "encryption.key")
        # Real gateways (DESIGN §6, §10): the environment wins over admin's settings, which then show locked.
        self.MIDTRANS_BASE_URL = os.environ.get("MIDTRANS_BASE_URL", "")
        self.MIDTRANS_SNAP_BASE_URL = os.environ.get("MIDTRANS_SNAP_BASE_URL", "")  # payment links (Snap)
        self.XENDIT_BASE_URL = os.environ.get("XENDIT_BASE_URL", "")
        # BI SNAP gateways (contracts/snap-bi.md); *_KEY_FILE name PEM files, read once here.
        for gateway, secret in (("DOKU", "SECRET_KEY"), ("NICEPAY", "CLIENT_SECRET")):
            for name in ("CLIENT_ID", secret, "ENV", "BASE_URL"):
                setattr(self, f"{gateway}_{name}", os.environ.get(f"{gateway}_{name}", "").strip())
            setattr(self, f"{gateway}_PRIVATE_KEY", env_file_text(f"{gateway}_PRIVATE_KEY_FILE"))
            setattr(self, f"{gateway}_PUBLIC_KEY", env_file_text(f"{gateway}_PUBLIC_KEY_FILE"))
        self.DOKU_MERCHANT_ID = os.environ.get("DOKU_MERCHANT_ID", "").strip()
        self.DOKU_TERMINAL_ID = os.environ.get("DOKU_TERMINAL_ID", "").strip()
        self.DOKU_CHANNEL_ID = os.environ.get("DOKU_CHANNEL_ID", "").strip() or "H2H"
        self.NICEPAY_STORE_ID = os.environ.get("NICEPAY_STORE_ID", "").strip()
        self.GATEWAY_CONNECT_TIMEOUT = float(os.environ.get("GATEWAY_CONNECT_TIMEOUT", "").strip() or 3)
        self.GATEWAY_READ_TIMEOUT = float(os.environ.get("GATEWAY_READ_TIMEOUT", "").strip() or 10)
        self.CALLBACK_SIGNING_KEY = os.environ.get("CALLBACK_SIGNING_KEY") or read_or_create_secret(
            instance / "callback_signing_key")
        # Hosts and CIDRs a callback_url may reach although loopback, private or link-local (a shop's own
        # LAN receiver); empty: callbacks go to public addresses only (kasir.payments.callback_targets).
        self.CALLBACK_ALLOWED_NETWORKS = os.environ.get("CALLBACK_ALLOWED_NETWORKS", "")
        # One callback attempt, connect to last byte, never takes longer than this (a slow receiver
        # only delays other callbacks, which have their own job thread).
        self.CALLBACK_CONNECT_TIMEOUT = 3.0
        self.CALLBACK_DEADLINE_SECONDS = 10.0
        self.MERCHANT_CITY = os.environ.get("MERCHANT_CITY", "")  # else admin's, else the shop address's city
        # Fractions are allowed ("0.1" = 6 s) so expiry can be seen in a demo or a browser test.
        self.EXPIRE_MINUTES = float(os.environ.get("EXPIRE_MINUTES", "").strip() or 15)
        self.QRIS_MAX_AMOUNT = env_int("QRIS_MAX_AMOUNT", 10_000_000)
        self.PRINTER_URL = os.environ.get("PRINTER_URL", "none")
        self.PRINTER_WIDTH = env_int("PRINTER_WIDTH", 58)
        self.CORS_ORIGINS = os.environ.get("CORS_ORIGINS", "")
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
        self.JOBS_ENABLED = env_flag("JOBS_ENABLED", True)
        # Daily backups in instance/backups/ older than this are deleted by the job runner.
        self.BACKUP_KEEP_DAYS = env_int("KASIR_BACKUP_KEEP_DAYS", 14)
        # Stored webhook deliveries and the hourly counts of refused ones are deleted after this many days.
        self.WEBHOOK_KEEP_DAYS = env_int("WEBHOOK_KEEP_DAYS", 90)

        self.RATELIMIT_ENABLED = env_flag("RATELIMIT_ENABLED", True)
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
        self.QR_RATE_LIMIT = os.environ.get("QR_RATE_LIMIT", "10 per minute")
        self.CHECK_RATE_LIMIT = os.environ.get("CHECK_RATE_LIMIT", "30 per minute")
        self.CANCEL_RATE_LIMIT = os.environ.get("CANCEL_RATE_LIMIT", "5 per minute")
        self.CONFIRM_RATE_LIMIT = os.environ.get("CONFIRM_RATE_LIMIT", "5 per minute")
        self.TEST_CONNECTION_RATE_LIMIT = os.environ.get("TEST_CONNECTION_RATE_LIMIT", "3 per minute")
        self.API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "10 per minute")
        # Refused webhook deliveries (bad signature, not the gateway's format) per sender address; past it the
        # sender gets 429 at once. A gateway whose deliveries verify never reaches it.
        self.WEBHOOK_REFUSED_RATE_LIMIT = os.environ.get("WEBHOOK_REFUSED_RATE_LIMIT", "30 per minute")
        # A payment request is a few hundred bytes (metadata at most 4 KB): anything bigger is refused early.
        self.API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 16 * 1024)

        # A till stays open all day: the CSRF token lives as long as the session.
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "kasir_session"
        self.MAX_CONTENT_LENGTH = 8 * 1024 * 1024  # CSV imports included (50 000 products: about 4 MB)
        self.CSV_IMPORT_MAX_ROWS = 60_000
