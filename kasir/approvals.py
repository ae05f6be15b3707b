"""Cashier controls (issue 20): supervisor approval at the till and the per-role discount limits.

A discount over the cashier's limit, voiding a paid sale, a refund and a receipt reprint need a
supervisor: a user with the admin role. A supervisor working the till needs nobody else; anyone else
names a supervisor, who types their PIN (or password) on the till. `approve` checks it and writes the
audit row that names the approver; the action's own audit row names them too.
"""
from dataclasses import dataclass
from datetime import timedelta

from . import audit
from .clock import utcnow
from .extensions import db
from .models import ROLE_ADMIN, ROLE_CASHIER, ROLES, AuditLog, User
from .money import MoneyError, format_rupiah, parse_rupiah
from .settings import get_setting, set_setting

APPROVAL_ACTION = "Approval"
# Wrong PINs for one supervisor within the window before the till stops asking: a 4-digit PIN must not be guessable.
MAX_REFUSALS = 5
REFUSAL_WINDOW = timedelta(minutes=5)
ROLE_LABELS = {ROLE_ADMIN: "admin", ROLE_CASHIER: "kasir"}


class ApprovalNeeded(Exception):
    """The action needs a supervisor's approval; `reason` tells the cashier why (Bahasa Indonesia)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ApprovalRefused(ValueError):
    """The named approver may not approve or the PIN is wrong; the message is for the cashier."""


def is_supervisor(user: User | None) -> bool:
    return user is not None and user.active and user.role == ROLE_ADMIN


def supervisors() -> list[User]:
    """Who may approve at the till, by name (the approval modal lists them)."""
    return list(db.session.scalars(db.select(User).where(User.role == ROLE_ADMIN, User.active.is_(True))
                                   .order_by(User.display_name)))


def _recent_refusals(username: str) -> int:
    return db.session.scalar(db.select(db.func.count(AuditLog.id)).where(
        AuditLog.action == APPROVAL_ACTION, AuditLog.outcome == "denied",
        AuditLog.detail.startswith(f"approver={username} "), AuditLog.at >= utcnow() - REFUSAL_WINDOW))


def approve(actor: User, username: str, secret: str, *, action: str, target: str, detail: str = "") -> User:
    """The supervisor `username` approves `action` on `target` for `actor`, after their PIN or password.

    Approved: the audit row joins the caller's transaction (it commits with the action, or not at all).
    Refused: the refusal is audited and committed at once, with nothing else (call this before changing
    anything), and ApprovalRefused says why.
    """
    username = (username or "").strip().lower()[:40]
    approver = db.session.scalar(db.select(User).where(User.username == username)) if username else None
    line = f"approver={username or '-'} action={action} {detail}".strip()
    if not is_supervisor(approver):
        problem = "Pilih supervisor (admin) yang menyetujui."
    elif approver.id == actor.id:
        problem = "Persetujuan harus dari supervisor lain."
    elif _recent_refusals(username) >= MAX_REFUSALS:
        problem = "Terlalu banyak PIN salah. Tunggu 5 menit lalu coba lagi."
    elif not secret or not (approver.check_pin(secret) or approver.check_password(secret)):
        problem = "PIN atau kata sandi supervisor salah."
    else:
        audit.record(APPROVAL_ACTION, target, detail=line, actor=actor.username)
        return approver
    audit.record(APPROVAL_ACTION, target, outcome="denied", detail=line, actor=actor.username)
    db.session.commit()
    raise ApprovalRefused(problem)


def require_supervisor(actor: User, approver: User | None, reason: str) -> User:
    """Who answers for an action only a supervisor may do: the actor if they are one, else the approver."""
    if is_supervisor(actor):
        return actor
    if approver is None:
        raise ApprovalNeeded(reason)
    return approver


@dataclass(frozen=True)
class DiscountLimit:
    """The largest discount a role gives on its own; None is no limit."""
    percent: int | None = None
    amount: int | None = None

    def allows(self, discount: int, base: int) -> bool:
        """`discount` rupiah off `base` rupiah (a line's gross or the sale's subtotal) within the limit?"""
        if self.amount is not None and discount > self.amount:
            return False
        return self.percent is None or discount * 100 <= self.percent * base

    def describe(self) -> str:
        parts = [f"{self.percent}%" if self.percent is not None else "",
                 format_rupiah(self.amount) if self.amount is not None else ""]
        return " dan ".join(part for part in parts if part) or "tanpa batas"


def _limit_keys(role: str) -> tuple[str, str]:
    return f"discount_limit_percent_{role}", f"discount_limit_amount_{role}"


def discount_limit(role: str) -> DiscountLimit:
    """The role's limit from the settings table; unset (the default) is no limit."""
    percent_key, amount_key = _limit_keys(role)
    percent, amount = get_setting(percent_key), get_setting(amount_key)
    return DiscountLimit(int(percent) if percent else None, int(amount) if amount else None)


def discount_limits() -> dict[str, DiscountLimit]:
    return {role: discount_limit(role) for role in ROLES}


def save_discount_limits(form) -> dict[str, DiscountLimit]:
    """Validate and store every role's limits from `form` (empty = no limit); raises ValueError with the reason."""
    limits = {}
    for role in ROLES:
        percent_key, amount_key = _limit_keys(role)
        percent_text = (form.get(percent_key) or "").strip().rstrip("%").strip()
        amount_text = (form.get(amount_key) or "").strip()
        label = ROLE_LABELS[role]
        if percent_text and not (percent_text.isdigit() and 0 <= int(percent_text) <= 100):
            raise ValueError(f"Batas diskon persen {label} harus angka bulat 0–100.")
        try:
            amount = parse_rupiah(amount_text) if amount_text else None
        except MoneyError as exc:
            raise ValueError(f"Batas diskon rupiah {label}: {exc}") from exc
        limits[role] = DiscountLimit(int(percent_text) if percent_text else None, amount)
    for role, limit in limits.items():
        percent_key, amount_key = _limit_keys(role)
        set_setting(percent_key, "" if limit.percent is None else str(limit.percent))
        set_setting(amount_key, "" if limit.amount is None else str(limit.amount))
    return limits


def check_discount(actor: User, discount: int, base: int, approver: User | None, what: str) -> User | None:
    """Who approved a discount of `discount` rupiah off `base` given by `actor`: None when within the actor's
    limit, the approver when over it; raises ApprovalNeeded when over it and nobody approved."""
    limit = discount_limit(actor.role)
    if limit.allows(discount, base):
        return None
    if approver is None:
        raise ApprovalNeeded(f"{what} {format_rupiah(discount)} melebihi batas diskon "
                             f"{ROLE_LABELS.get(actor.role, actor.role)} ({limit.describe()}).")
    return approver
