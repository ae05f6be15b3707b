"""Login for admins (password) and cashiers (PIN), roles, and the access decorators."""
import functools

from flask import Blueprint, g, redirect, request, session, url_for

from ..extensions import db
from ..models import User
from ..web import error_response, is_htmx

bp = Blueprint("auth", __name__)


@bp.before_app_request
def load_logged_in_user():
    user_id = session.get("user_id")
    g.user = db.session.get(User, user_id) if user_id else None
    if g.user is not None and not g.user.active:
        session.clear()
        g.user = None


def _to_login():
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if is_htmx():
        response = redirect(target)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def login_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return _to_login()
        if g.user.must_change_password and request.endpoint != "auth.change_password":
            return redirect(url_for("auth.change_password"))
        return view(**kwargs)

    return wrapped


def admin_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return _to_login()
        if not g.user.is_admin:
            return error_response(403)
        if g.user.must_change_password:
            return redirect(url_for("auth.change_password"))
        return view(**kwargs)

    return wrapped


from . import routes  # noqa: E402,F401  (routes attach to bp)
