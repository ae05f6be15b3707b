"""The rows (and values computed from them) that tills, displays and apps poll every second or two, kept in
memory until anything is committed in this process, and for at most TTL_SECONDS (another process's commit is
seen within it). A steady poll then costs no query; a change is seen by the first poll after its commit."""
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .extensions import db

TTL_SECONDS = 1.0
MAX_ROWS = 1024

_rows: dict = {}


def first_row(statement, **params):
    """`statement`'s first row for `params` (None when there is none), read on a connection of its own."""
    engine = db.engine

    def query():
        with engine.connect() as connection:
            return connection.execute(statement, params).first()

    return remembered((engine, statement, tuple(sorted(params.items()))), query)


def remembered(key, compute):
    """`compute()`'s value under `key` (name the engine in it), kept as the rows above are."""
    rows, now = _rows, time.monotonic()
    kept = rows.get(key)
    if kept is not None and now - kept[0] < TTL_SECONDS:
        return kept[1]
    value = compute()
    if len(rows) < MAX_ROWS:
        rows[key] = (now, value)  # into the dict taken before computing: a commit since then dropped it
    return value


@event.listens_for(Engine, "commit")  # as a commit starts
@event.listens_for(Session, "after_commit")  # and once it is done: a row read in between is dropped too
def _forget(*_args) -> None:
    global _rows
    _rows = {}
