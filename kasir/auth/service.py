"""Account rules: who may log in (and the lockout after failed attempts), password and PIN policy."""
import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from .. import audit
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import ROLE_ADMIN, ROLES, LoginFailure, User

MIN_PASSWORD_LENGTH = 10
# Passwords people pick first (lowercase); a guess at the login page finds them in a few tries.
COMMON_PASSWORDS = frozenset({
    "1234567890", "12345678910", "0987654321", "1111111111", "password", "password1", "password12",
    "password123", "passw0rd123", "qwerty1234", "qwertyuiop", "1q2w3e4r5t", "asdfghjkl1", "iloveyou12",
    "admin12345", "admin123456", "adminadmin", "administrator", "rahasia123", "rahasia1234", "katasandi",
    "katasandi1", "katasandi123", "bismillah", "bismillah1", "bismillah123", "indonesia", "indonesia1",
    "indonesia123", "sayangku123", "kasir12345", "kasir123456", "toko123456", "tokokasir", "tokokasir1",
    "merdeka1945", "jakarta123", "welcome123", "selamatdatang",
})
# Per username (docs/security.md): after LOCK_AFTER failures in a row the name is locked for LOCK_FIRST, and each
# further failure doubles the lock up to LOCK_MAX. A quiet day forgets the failures.
LOCK_AFTER = 5
LOCK_FIRST = timedelta(minutes=1)
LOCK_MAX = timedelta(minutes=15)
FAILURES_FORGOTTEN_AFTER = timedelta(days=1)


class AccountError(ValueError):
    """A rule broken by account input; the message is for the user (Bahasa Indonesia)."""


class LoginLocked(AccountError):
    """Too many failed logins for this username: no secret is checked until the lock ends."""

    def __init__(self, remaining: timedelta):
        minutes = max(1, math.ceil(remaining.total_seconds() / 60))
        super().__init__(f"Terlalu banyak percobaan masuk yang gagal. Coba lagi dalam {minutes} menit.")


def login_name(username: str) -> str:
    """The username as stored (and as the lockout counts it)."""
    return username.strip().lower()[:40]


def authenticate(username: str, secret: str, *, by_pin: bool) -> User | None:
    """The user whose username and secret these are, or None. Cashiers log in by PIN, admins by password
    only. Raises LoginLocked while the username is locked, whether or not such a user exists, so that the
    lockout reveals no more than a wrong password does. The caller commits (last login, failures forgotten)."""
    key = login_name(username)
    now = utcnow()
    locked_until = db.session.scalar(db.select(LoginFailure.locked_until).where(LoginFailure.username == key))
    if locked_until is not None and locked_until > now:
        raise LoginLocked(locked_until - now)
    user = db.session.scalar(db.select(User).where(User.username == key))
    if user is None or not user.active or (by_pin and user.is_admin):
        return None
    valid = user.check_pin(secret) if by_pin else user.check_password(secret)
    if not valid:
        return None
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.username == key))
    user.last_login_at = now
    return user


def record_failed_login(username: str) -> LoginLocked | None:
    """Count a failed login for this username (in its own transaction); the LoginLocked to show when this
    failure locks it. Each lock is audited."""
    key = login_name(username)
    if not key:
        return None
    for attempt in range(2):
        try:
            with write_transaction():
                return _count_failure(key, utcnow())
        except IntegrityError:  # PostgreSQL: a concurrent first failure inserted the row; count on it
            if attempt:
                raise
    return None


def _count_failure(key: str, now: datetime) -> LoginLocked | None:
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.last_failed_at < now - FAILURES_FORGOTTEN_AFTER,
                                                     LoginFailure.username != key))
    failure = db.session.get(LoginFailure, key, with_for_update=True, populate_existing=True)
    if failure is None:
        failure = LoginFailure(username=key, failures=0)
        db.session.add(failure)
    elif failure.last_failed_at < now - FAILURES_FORGOTTEN_AFTER:
        failure.failures = 0
    failure.failures += 1
    failure.last_failed_at = now
    if failure.failures < LOCK_AFTER:
        return None
    lock = min(LOCK_MAX, LOCK_FIRST * 2 ** min(failure.failures - LOCK_AFTER, 8))
    failure.locked_until = now + lock
    audit.record("LoginLocked", key, outcome="locked", actor=key,
                 detail=f"failures={failure.failures} minutes={int(lock.total_seconds() // 60)}")
    return LoginLocked(lock)


def validate_password(password: str, username: str = "") -> None:
    """The minimum strength of a password (admins log in with one): long enough, not guessable at once."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Kata sandi minimal {MIN_PASSWORD_LENGTH} karakter.")
    if password.isdigit():
        raise AccountError("Kata sandi tidak boleh hanya angka; tambahkan huruf atau tanda baca.")
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError("Kata sandi tidak boleh sama dengan nama pengguna.")
    if password.lower() in COMMON_PASSWORDS:
        raise AccountError("Kata sandi ini terlalu umum dan mudah ditebak. Pilih yang lain.")


def validate_pin(pin: str) -> None:
    if not (pin.isdigit() and 4 <= len(pin) <= 8):
        raise AccountError("PIN harus 4–8 angka.")


def validate_username(username: str) -> str:
    username = username.strip().lower()
    if not username or len(username) > 40 or not all(ch.isalnum() or ch in "._-" for ch in username):
        raise AccountError("Nama pengguna hanya boleh huruf, angka, titik, garis bawah atau strip (maks. 40).")
    return username


def generate_password() -> str:
    return secrets.token_urlsafe(9)


def create_user(username: str, role: str, *, display_name: str = "", password: str | None = None,
                pin: str | None = None, must_change_password: bool = False) -> User:
    username = validate_username(username)
    if role not in ROLES:
        raise AccountError("Peran harus admin atau cashier.")
    if db.session.scalar(db.select(User.id).where(User.username == username)):
        raise AccountError(f"Pengguna '{username}' sudah ada.")
    if role == ROLE_ADMIN and not password:
        raise AccountError("Admin wajib punya kata sandi.")
    if not password and not pin:
        raise AccountError("Isi PIN untuk kasir.")
    user = User(username=username, role=role, display_name=display_name.strip() or username.title(),
                must_change_password=must_change_password)
    if password:
        validate_password(password, username)
        user.set_password(password)
    if pin:
        validate_pin(pin)
        user.set_pin(pin)
    db.session.add(user)
    return user
