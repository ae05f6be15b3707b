"""Login for admins (password) and cashiers (PIN), roles, and the access decorators."""
import functools
import time

from flask import g, redirect, request, session, url_for
from flask.ctx import _AppCtxGlobals

from ..extensions import db
from ..models import User
from ..web import error_response, is_htmx
from .blueprint import bp

SESSION_VERSION_KEY = "session_version"


def start_session(user: User) -> None:
    """Log `user` in on this browser: a fresh session that carries the user's current session version."""
    session.clear()
    session["user_id"] = user.id
    session["username"] = user.username
    session[SESSION_VERSION_KEY] = user.session_version


def keep_session(user: User) -> None:
    """After the user changed their own password or PIN here (which ended all their sessions): this
    session alone carries the new version and stays logged in."""
    session[SESSION_VERSION_KEY] = user.session_version


def session_is_current(user: User | None, version) -> bool:
    """A session is valid while its user is active and its version is the user's (docs/security.md):
    logout, a new PIN or password, (de)activation and "log out everywhere" bump the user's version."""
    return user is not None and user.active and isinstance(version, int) and version == user.session_version


def logged_in_user() -> User | None:
    """The session's user, or None; a revoked session (see session_is_current) is cleared."""
    user_id = session.get("user_id")
    if not user_id:
        return None
    user = db.session.get(User, user_id)
    if not session_is_current(user, session.get(SESSION_VERSION_KEY)):
        session.clear()
        return None
    return user


# Per app, session cookie -> (user id, session version, when verified): a till sends the same cookie every
# second, and checking its signature costs more than the poll's query. Rechecked after a minute, so the
# cookie's expiry still holds; whether the user is still active and the version still current is the
# caller's query, every time (a revoked cookie fails there at once).
_SESSION_RECHECK_SECONDS = 60
_SESSIONS_REMEMBERED = 1024


def session_identity(app, request) -> tuple[int, int] | None:
    """(user id, session version) from a request's session cookie, read by Flask's own session interface;
    for kasir.fastpath, which answers before Flask opens a session. The caller's query must match both
    against the user's row (active, same version): see session_is_current."""
    cookie = request.cookies.get(app.config["SESSION_COOKIE_NAME"])
    if not cookie:
        return None
    verified_sessions = app.extensions.setdefault("kasir.verified_sessions", {})
    remembered = verified_sessions.get(cookie)
    if remembered is not None and time.monotonic() - remembered[1] < _SESSION_RECHECK_SECONDS:
        return remembered[0]
    session_data = app.session_interface.open_session(app, request)
    identity = None
    if session_data is not None:
        user_id, version = session_data.get("user_id"), session_data.get(SESSION_VERSION_KEY)
        if isinstance(user_id, int) and isinstance(version, int):
            identity = (user_id, version)
    if len(verified_sessions) >= _SESSIONS_REMEMBERED:
        verified_sessions.clear()
    verified_sessions[cookie] = (identity, time.monotonic())
    return identity


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
