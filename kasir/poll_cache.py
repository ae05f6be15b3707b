"""The rows that tills, displays and apps poll each second, kept in memory until anything is committed
in this process, and for at most TTL_SECONDS (another process's commit is seen within it). A steady poll
then costs no query; a change is seen by the first poll after its commit."""
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
    key = (engine, statement, tuple(sorted(params.items())))
    rows, now = _rows, time.monotonic()
    kept = rows.get(key)
    if kept is not None and now - kept[0] < TTL_SECONDS:
        return kept[1]
    with engine.connect() as connection:
        row = connection.execute(statement, params).first()
    if len(rows) < MAX_ROWS:
        rows[key] = (now, row)  # into the dict taken before the query: a commit since then dropped it
    return row


@event.listens_for(Engine, "commit")  # as a commit starts
@event.listens_for(Session, "after_commit")  # and once it is done: a row read in between is dropped too
def _forget(*_args) -> None:
    global _rows
    _rows = {}
