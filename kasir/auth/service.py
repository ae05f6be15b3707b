"""Account rules: who may log in, password and PIN policy."""
import secrets

from ..clock import utcnow
from ..extensions import db
from ..models import ROLE_ADMIN, ROLES, User

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


class AccountError(ValueError):
    """A rule broken by account input; the message is for the user (Bahasa Indonesia)."""


def authenticate(username: str, secret: str, *, by_pin: bool) -> User | None:
    user = db.session.scalar(db.select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        return None
    valid = user.check_pin(secret) if by_pin else user.check_password(secret)
    if not valid:
        return None
    user.last_login_at = utcnow()
    return user


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
