"""Login for admins (password) and cashiers (PIN), roles, and the access decorators.

The session user comes from Flask-Login; the decorators put it in `g.user` (flaskr style) for the view
and its templates. Routes without a decorator (the display, the API, the webhooks) never load a user.
"""
import functools

from flask import g, redirect, request, session, url_for
from flask_login import current_user, login_user
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import make_transient_to_detached

from ..extensions import db, login_manager
from ..models import User
from ..poll_cache import first_row
from ..web import error_response, is_htmx
from .blueprint import bp  # noqa: F401  (create_app registers auth.bp)

# The session user's row, read through the poll cache (a till polls each second). Built once.
_USER = select(*User.__table__.columns).where(User.id == bindparam("user_id"))


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The user of a session token (User.get_id: "id:version"), while the session is current: the user is
    active and the version is the user's (docs/security.md). Logout, a new PIN or password, (de)activation
    and "log out everywhere" bump the version, which ends every copy of every cookie given before."""
    user_id, _, version = token.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    row = first_row(_USER, user_id=int(user_id))
    if row is None or not row.active or row.session_version != int(version):
        return None
    user = User(**row._mapping)
    make_transient_to_detached(user)  # SQLAlchemy's documented state for a cached object; session_user attaches it
    return user


def start_session(user: User) -> None:
    """Log `user` in on this browser, in a fresh session (its username names the actor in kasir.audit)."""
    session.clear()
    login_user(user)
    session["username"] = user.username


def keep_session(user: User) -> None:
    """After the user changed their own password or PIN here (which ended all their sessions): this
    session alone carries the new version and stays logged in."""
    login_user(user)


def session_user() -> User | None:
    """The session's user, or None, also as `g.user`: in this request's database session without a query
    (the session's own copy, or merge with load=False as SQLAlchemy documents for a cached object)."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if user is not None:
        user = db.session.identity_map.get(inspect(user).key) or db.session.merge(user, load=False)
    g.user = user
    return user


def _to_login():
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if is_htmx():
        response = redirect(target)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _refused():
    """Where a request goes when its session is not current (login) or must change its password first."""
    if not current_user.is_authenticated:
        return _to_login()
    if current_user.must_change_password and request.endpoint != "auth.change_password":
        return redirect(url_for("auth.change_password"))
    return None


def login_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        refused = _refused()
        if refused is not None:
            return refused
        session_user()
        return view(**kwargs)

    return wrapped


def session_required(view):
    """login_required for a poll that reads no user: the same checks on the session, but `g.user` is not
    set and the user stays out of the database session (a view that needs it calls a login_required one)."""
    @functools.wraps(view)
    def wrapped(**kwargs):
        refused = _refused()
        return refused if refused is not None else view(**kwargs)

    return wrapped


def admin_required(view):
    @functools.wraps(view)
    def wrapped(**kwargs):
        user = session_user()
        if user is None:
            return _to_login()
        if not user.is_admin:
            return error_response(403)
        if user.must_change_password:
            return redirect(url_for("auth.change_password"))
        return view(**kwargs)

    return wrapped
