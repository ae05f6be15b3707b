import unicodedata
from urllib.parse import unquote, urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from .. import audit
from ..extensions import db, limiter
from ..models import ROLE_CASHIER, User
from . import keep_session, login_required, session_user, start_session
from .blueprint import bp
from .service import AccountError, LoginLocked, authenticate, record_failed_login, validate_password


def _home_for(user: User) -> str:
    return url_for("admin.index") if user.is_admin else url_for("pos.index")


def _is_local_path(text: str) -> bool:
    r"""A path on this server: "/" not followed by "/", no "\" anywhere (browsers read "//host" and
    "/\host" as another site), no scheme or host, no whitespace or control character (browsers drop
    tabs and newlines, so "/\t/evil.example" would become "//evil.example")."""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return False
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in text):
        return False
    parts = urlsplit(text)
    return not parts.scheme and not parts.netloc


def _safe_next(target: str | None) -> str | None:
    """?next= when it is a path on this server, as given and percent-decoded: a crafted one must not send
    a cashier to another site."""
    if target and _is_local_path(target) and _is_local_path(unquote(target)):
        return target
    return None


@bp.route("/")
def index():
    user = session_user()
    return redirect(_home_for(user) if user else url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    cashiers = db.session.scalars(
        db.select(User).where(User.role == ROLE_CASHIER, User.active.is_(True)).order_by(User.display_name)
    ).all()
    error = None
    mode = request.form.get("mode", "pin")
    if request.method == "POST":
        user, error = _attempt_login(mode)
        if user is not None:
            start_session(user)
            audit.record("Login", user.username)
            db.session.commit()
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
    status = 401 if error else 200
    chosen = request.form.get("username") if mode == "pin" else None  # kept after a wrong PIN
    return render_template("auth/login.html", cashiers=cashiers, error=error, mode=mode, chosen=chosen), status


def _attempt_login(mode: str) -> tuple[User | None, str | None]:
    """The user the posted credentials log in, or None and the message to show; each failure is audited
    and counts towards the username's lockout."""
    username = request.form.get("username", "")
    secret = request.form.get("pin" if mode == "pin" else "password", "")
    if mode == "pin" and not username:
        return None, "Pilih nama Anda dulu, lalu ketik PIN."
    try:
        user = authenticate(username, secret, by_pin=(mode == "pin"))
    except LoginLocked as exc:
        return _refused(username, str(exc), "locked")
    if user is not None:
        return user, None
    lock = record_failed_login(username)
    return _refused(username, str(lock) if lock else ("PIN salah." if mode == "pin" else
                                                      "Nama pengguna atau kata sandi salah."), "failed")


def _refused(username: str, message: str, outcome: str) -> tuple[None, str]:
    audit.record("Login", username[:40], outcome=outcome, actor=username[:40] or "anonymous")
    db.session.commit()
    return None, message


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the user's sessions on every device (a copied cookie included): see kasir.auth.load_user."""
    user = session_user()
    if user is not None:
        user.end_sessions()
        audit.record("Logout", user.username)
        db.session.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/account/sessions/end", methods=["POST"])
@login_required
def end_my_sessions():
    """"Keluar dari semua perangkat" for oneself: every session of this user ends, this one too."""
    g.user.end_sessions()
    audit.record("EndSessions", g.user.username)
    db.session.commit()
    session.clear()
    flash("Anda telah keluar dari semua perangkat.", "success")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    error = None
    if request.method == "POST":
        current = request.form.get("current_password", "")
        new = request.form.get("new_password", "")
        repeat = request.form.get("repeat_password", "")
        try:
            if g.user.password_hash and not g.user.check_password(current):
                raise AccountError("Kata sandi lama salah.")
            validate_password(new, g.user.username)
            if new != repeat:
                raise AccountError("Ulangi kata sandi baru dengan sama persis.")
            if new == current:
                raise AccountError("Kata sandi baru harus berbeda dari yang lama.")
        except AccountError as exc:
            error = str(exc)
        else:
            g.user.set_password(new)  # ends the user's other sessions; this one carries on
            keep_session(g.user)
            g.user.must_change_password = False
            audit.record("ChangePassword", g.user.username)
            db.session.commit()
            flash("Kata sandi berhasil diubah.", "success")
            return redirect(_home_for(g.user))
    return render_template("auth/change_password.html", error=error), (422 if error else 200)
