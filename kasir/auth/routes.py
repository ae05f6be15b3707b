from flask import current_app, flash, g, redirect, render_template, request, session, url_for

from .. import audit
from ..extensions import db, limiter
from ..models import ROLE_CASHIER, User
from . import bp, login_required
from .service import AccountError, authenticate, validate_password


def _home_for(user: User) -> str:
    return url_for("admin.index") if user.is_admin else url_for("pos.index")


def _safe_next(target: str | None) -> str | None:
    # Only local paths: a crafted ?next= must not send a cashier to another site.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@bp.route("/")
def index():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return redirect(_home_for(g.user))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    cashiers = db.session.scalars(
        db.select(User).where(User.role == ROLE_CASHIER, User.active.is_(True)).order_by(User.display_name)
    ).all()
    error = None
    mode = request.form.get("mode", "pin")
    if request.method == "POST":
        username = request.form.get("username", "")
        secret = request.form.get("pin" if mode == "pin" else "password", "")
        user = authenticate(username, secret, by_pin=(mode == "pin"))
        if user is None and mode == "pin" and not username:
            error = "Pilih nama Anda dulu, lalu ketik PIN."
        elif user is None:
            error = "PIN salah." if mode == "pin" else "Nama pengguna atau kata sandi salah."
            audit.record("Login", username[:40], outcome="failed", actor=username[:40] or "anonymous")
            db.session.commit()
        else:
            session.clear()
            session["user_id"] = user.id
            session["username"] = user.username
            audit.record("Login", user.username)
            db.session.commit()
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(_safe_next(request.args.get("next")) or _home_for(user))
    status = 401 if error else 200
    chosen = request.form.get("username") if mode == "pin" else None  # kept after a wrong PIN
    return render_template("auth/login.html", cashiers=cashiers, error=error, mode=mode, chosen=chosen), status


@bp.route("/logout", methods=["POST"])
def logout():
    if g.user is not None:
        audit.record("Logout", g.user.username)
        db.session.commit()
    session.clear()
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
            g.user.set_password(new)
            g.user.must_change_password = False
            audit.record("ChangePassword", g.user.username)
            db.session.commit()
            flash("Kata sandi berhasil diubah.", "success")
            return redirect(_home_for(g.user))
    return render_template("auth/change_password.html", error=error), (422 if error else 200)
