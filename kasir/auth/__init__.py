"""Login for admins (password) and cashiers (PIN), roles, and the access decorators."""
import functools
import time

from flask import Blueprint, g, redirect, request, session, url_for
from flask.ctx import _AppCtxGlobals

from ..extensions import db
from ..models import User
from ..web import error_response, is_htmx

bp = Blueprint("auth", __name__)


def logged_in_user() -> User | None:
    """The session's user, or None; an account deactivated since login ends the session."""
    user_id = session.get("user_id")
    user = db.session.get(User, user_id) if user_id else None
    if user is not None and not user.active:
        session.clear()
        user = None
    return user


# Per app, session cookie -> (user id, when verified): a till sends the same cookie every second, and
# checking its signature costs more than the poll's query. Rechecked after a minute, so the cookie's expiry
# still holds; whether the user is still active is the caller's query, every time.
_SESSION_RECHECK_SECONDS = 60
_SESSIONS_REMEMBERED = 1024


def session_user_id(app, request) -> int | None:
    """The user id in a request's session cookie, read by Flask's own session interface; for
    kasir.fastpath, which answers before Flask opens a session. (Active and allowed: the caller's query.)"""
    cookie = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
    if not cookie:
        return None
    verified_sessions = app.extensions.setdefault("kasir.verified_sessions", {})
    remembered = verified_sessions.get(cookie)
    if remembered is not None and time.monotonic() - remembered[1] < _SESSION_RECHECK_SECONDS:
        return remembered[0]
    session_data = app.session_interface.open_session(app, request)
    user_id = session_data.get("user_id") if session_data is not None else None
    user_id = user_id if isinstance(user_id, int) else None
    if len(verified_sessions) >= _SESSIONS_REMEMBERED:
        verified_sessions.clear()
    verified_sessions[cookie] = (user_id, time.monotonic())
    return user_id


class RequestGlobals(_AppCtxGlobals):
    """Flask's `g`, with `g.user` loaded on first use: the display, API and webhook routes never ask,
    so a till PC's session cookie costs their polls no query. (Not functools.cached_property: on
    Python < 3.12 it holds one lock for all requests while the query runs.)"""

    def __getattr__(self, name):
        if name == "user":
            self.user = logged_in_user()
            return self.user
        return super().__getattr__(name)


@bp.before_app_request
def forget_user():
    """A request inside an app context that is already pushed (tests, CLI) shares its `g`: each request
    must load its own session's user."""
    g.pop("user", None)


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
