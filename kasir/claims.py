"""How the background jobs share their work (DESIGN §11): claim due rows, work them one at a time, take a
lease for once-a-day work, and wait by a retry schedule.

A job claims its due rows in one short transaction that stamps them (their next attempt moved on by a
lease), so the next run, or another server process, skips them until then; a crash mid-work only delays a
row. On PostgreSQL `FOR UPDATE SKIP LOCKED` passes over rows another process is claiming at that moment;
SQLite serves one process and takes its write lock. The claimed rows are then worked one at a time, each
ending in its own commit: an error in one is logged and never stops the others.
"""
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError

from .clock import utcnow
from .database import write_transaction
from .extensions import db
from .models import Lease

log = logging.getLogger(__name__)


def claim(query: Select, stamp: Callable[[object], None]) -> list:
    """The ids of the rows `query` selects, each passed to `stamp` (which moves it out of the query's
    reach for a while), committed in one transaction. Nothing due: one read, ended without a commit (an idle
    job every second would otherwise take SQLite's write lock and clear kasir.poll_cache each time)."""
    if not db.session().in_transaction() and db.session.scalars(query.limit(1)).first() is None:
        db.session.rollback()  # only this read was in the transaction
        return []
    with write_transaction():
        rows = db.session.scalars(query.with_for_update(skip_locked=True)).all()
        for row in rows:
            stamp(row)
        return [row.id for row in rows]


def each(model, ids: Iterable, work: Callable[[object], int]) -> int:
    """`work(row)` for each claimed row, loaded only when its turn comes (each commit would expire a held
    batch, and every row be read again), then committed; the sum of what `work` returned. A row gone
    meanwhile is skipped; an error is logged and rolled back, and the next row goes on."""
    done = 0
    for row_id in ids:
        try:
            row = db.session.get(model, row_id)
            if row is not None:
                done += work(row)
            db.session.commit()
        except Exception:  # one row's failure must not hold up the others
            db.session.rollback()
            log.exception("%s %s: the job failed on this row; it is due again later", model.__tablename__, row_id)
    return done


def take_lease(name: str, length: timedelta) -> bool:
    """For work done once for the whole shop, not row by row (yesterday's reconciliation): True for one
    caller only, until `length` has passed. A run that fails lets its lease run out; then another may try."""
    now = utcnow()
    try:
        with write_transaction():
            lease = db.session.get(Lease, name, with_for_update=True, populate_existing=True) or Lease(name=name)
            if lease.expires_at is not None and lease.expires_at > now:
                return False
            lease.expires_at = now + length
            db.session.add(lease)
    except IntegrityError:  # PostgreSQL: another process inserted the same lease at the same moment
        return False
    return True


def backoff(schedule: Sequence[timedelta], failures: int) -> timedelta | None:
    """The wait after `failures` failed attempts (1 after the first), or None once the schedule is used up."""
    return schedule[failures - 1] if failures <= len(schedule) else None
