"""Shop settings kept in the `settings` table, edited in admin.

Hot paths (every QR carries the merchant name, every payment records the active provider) read a
snapshot of the table instead of asking the database each time. A change committed in this process
replaces the snapshot at once (the session hooks below), so whoever saved a setting sees it on the very
next request. A change made by another process (a second server on the same PostgreSQL, the CLI) is
seen within SNAPSHOT_MAX_AGE: the snapshot is read again once it is that old. That staleness is harmless
where the snapshot is used: a payment records the provider it was charged with, so one opened with the
previous provider a moment after a switch stays consistent, and a QR with the previous merchant name
still pays the same shop. Admin's forms and `save` read the table itself (get_setting,
gateway_settings.load), never the snapshot.
"""
import threading
import time
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import event, select

from .extensions import db
from .models import Setting

SHOP_DEFAULTS = {
    "shop_name": "Toko Kasir",
    "shop_address": "",
    "shop_phone": "",
    "receipt_footer": "Terima kasih atas kunjungan Anda",
}
SNAPSHOT_MAX_AGE = 2.0  # seconds another process's change may go unseen here
_CHANGED = "kasir_settings_changed"  # session.info: Setting rows flushed, not committed yet
_ALL_ROWS = select(Setting.__table__.c.key, Setting.__table__.c.value, Setting.__table__.c.encrypted)


def get_setting(key: str, default: str = "") -> str:
    row = db.session.get(Setting, key)
    return row.value if row else default


def set_setting(key: str, value: str) -> None:
    row = db.session.get(Setting, key) or Setting(key=key)
    row.value = value
    db.session.add(row)


def shop_profile() -> dict[str, str]:
    rows = {row.key: row.value for row in db.session.scalars(db.select(Setting).where(Setting.key.in_(SHOP_DEFAULTS)))}
    return {key: rows.get(key, default) for key, default in SHOP_DEFAULTS.items()}


@dataclass
class Snapshot:
    """The settings rows (key → row with .value and .encrypted) as read at `read_at` (time.monotonic)."""
    rows: dict
    read_at: float
    derived: dict = field(default_factory=dict)  # values computed from these rows (gateway_settings.current)


class _SnapshotHolder:
    def __init__(self):
        self.lock = threading.Lock()
        self.generation = 0  # bumped by every commit of a settings change in this process
        self.snapshot: Snapshot | None = None

    def invalidate(self) -> None:
        with self.lock:
            self.generation += 1
            self.snapshot = None


def _holder() -> _SnapshotHolder:
    return current_app.extensions.setdefault("kasir_settings_snapshot", _SnapshotHolder())


def snapshot() -> Snapshot:
    """The settings table as of at most SNAPSHOT_MAX_AGE ago, or with this process's last change."""
    holder = _holder()
    taken = holder.snapshot
    now = time.monotonic()
    if taken is not None and now - taken.read_at < SNAPSHOT_MAX_AGE:
        return taken
    generation = holder.generation
    fresh = Snapshot({row.key: row for row in db.session.connection().execute(_ALL_ROWS)}, now)
    if db.session.info.get(_CHANGED):
        return fresh  # holds this session's uncommitted change: not for other requests
    with holder.lock:
        if holder.generation == generation:  # no change was committed while we read
            holder.snapshot = fresh
    return fresh


def cached_setting(key: str, default: str = "") -> str:
    """get_setting from the snapshot, for hot paths."""
    row = snapshot().rows.get(key)
    return row.value if row is not None else default


@event.listens_for(db.session, "after_flush")
def _note_settings_change(session, _flush_context):
    if any(isinstance(instance, Setting) for instance in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(db.session, "after_commit")
def _drop_snapshot(session):
    if session.info.pop(_CHANGED, False):
        _holder().invalidate()


@event.listens_for(db.session, "after_rollback")
def _forget_rolled_back_change(session):
    session.info.pop(_CHANGED, None)
