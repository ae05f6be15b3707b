"""How Kasir opens transactions, so that a busy till never sees "database is locked".

On SQLite, SQLAlchemy's documented recipe for pysqlite: the driver is put in autocommit and the engine's
"begin" event emits the BEGIN. A `write_transaction()` begins IMMEDIATE: it takes the write lock before its
first read, so a read-check-write rule cannot be raced, and waits its turn (busy_timeout). Other reads run in
autocommit and hold no snapshot, so a later write never fails on a stale one (SQLITE_BUSY_SNAPSHOT, which no
busy timeout waits out); any other flush begins IMMEDIATE just before it, so its statements commit together,
after waiting its turn among this process's writers as a write_transaction() does.
On PostgreSQL callers lock rows with SELECT … FOR UPDATE (and jobs SKIP LOCKED).
"""
import threading
from contextlib import contextmanager, nullcontext

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine

from .extensions import db

_IMMEDIATE = "kasir_begin_immediate"  # execution option of a write_transaction()'s connection
_IN_WRITE_BLOCK = "kasir_in_write_block"  # session.info: inside write_transaction()
_LOCKED_ROWS = "kasir_locked_rows"  # session.info: (transaction, identity keys of the rows it has locked)
_HOLDS_TURN = "kasir_holds_writers_turn"  # session.info: a flush outside write_transaction() took the turn
# This process's SQLite writers take turns here before BEGIN IMMEDIATE: SQLite's busy handler sleeps in
# growing steps, so threads waiting on it form a convoy; a lock hands over at once.
_sqlite_writers = threading.Lock()


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine)
    elif engine.dialect.name == "sqlite":
        _configure_sqlite(engine)


def _configure_postgresql(engine: Engine) -> None:
    from psycopg.types.string import StrDumperUnknown

    class NulSafeStrDumper(StrDumperUnknown):
        """PostgreSQL text cannot hold NUL, SQLite's can: a NUL in any input (a path, a query, a form) becomes
        U+FFFD on its way in, so a lookup by it finds nothing, as on SQLite, instead of failing with a 500."""

        def dump(self, obj: str):
            return super().dump(obj.replace("\x00", "\ufffd"))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.adapters.register_dumper(str, NulSafeStrDumper)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the driver's own BEGIN off: the "begin" event decides
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a paid sale survives a power cut, at the cost of one fsync per commit.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(_IMMEDIATE, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(db.session, "before_flush")
def _flush_in_one_transaction(session, _flush_context, _instances):
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        _sqlite_writers.acquire()  # its turn, as a write_transaction() takes it; given back as the transaction ends
        session.info[_HOLDS_TURN] = True
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(db.session, "after_transaction_end")
def _give_the_turn_back(session, transaction):
    if transaction.parent is None and session.info.pop(_HOLDS_TURN, False):
        _sqlite_writers.release()


def primary_key(instance):
    """An ORM object's primary key without reloading it (a commit expired it; the caller loads the row itself)."""
    state = inspect(instance)
    return state.identity[0] if state.identity else state.mapper.primary_key_from_instance(instance)[0]


def in_write_block() -> bool:
    """Inside `write_transaction()`: its transaction holds the write lock (SQLite) until it ends."""
    return db.session().info.get(_IN_WRITE_BLOCK, False)


def locking(statement):
    """`statement` as `lock_one` runs it: its first row, locked (PostgreSQL FOR UPDATE; SQLite holds the write
    lock already) and read afresh. Build it once, at import: a select built per call costs more to prepare than
    to run (docs/performance.md)."""
    return statement.limit(1).with_for_update().execution_options(populate_existing=True)


def lock_one(statement, **params):
    """Inside a write transaction: the row a `locking()` statement selects with `params`, or None. `locked_get`
    then finds it without a query."""
    row = db.session.scalar(statement, params)
    if row is not None:
        _locked_rows().add(inspect(row).identity_key)
    return row


def locked_get(model, key):
    """Inside a write transaction: the row of `model` with primary key `key`, locked and read afresh, or None.
    A row this transaction has locked already comes from the session as it is: nobody else can have changed it."""
    session, rows = db.session(), _locked_rows()
    if session.identity_key(model, key) in rows:
        return session.get(model, key)
    row = session.get(model, key, with_for_update=True, populate_existing=True)
    if row is not None:
        rows.add(inspect(row).identity_key)
    return row


def _locked_rows() -> set:
    """The identity keys of the rows the session's current write transaction has locked (a new set for a new
    transaction; an empty, forgotten one outside write_transaction(), where a read locks nothing on SQLite)."""
    session = db.session()
    if not in_write_block():
        return set()
    transaction = session.get_transaction()
    held = session.info.get(_LOCKED_ROWS)
    if held is None or held[0] is not transaction:
        held = session.info[_LOCKED_ROWS] = (transaction, set())
    return held[1]


@contextmanager
def write_transaction():
    """`with write_transaction():` runs its body in one transaction that holds the write lock from its
    start; commits, or rolls back on an error. Any transaction open before it is committed first.

    A `write_transaction()` inside another joins it: the outer one commits both or neither, so that
    steps which must be atomic together (a state change and the answer stored for it) cost one commit.
    """
    session = db.session()
    if in_write_block():
        yield
        return
    if session.in_transaction():
        session.commit()
    session.info[_IN_WRITE_BLOCK] = True
    try:
        with _sqlite_writers if db.engine.dialect.name == "sqlite" else nullcontext(), session.begin():
            session.connection(execution_options={_IMMEDIATE: True})
            yield
    finally:
        del session.info[_IN_WRITE_BLOCK]
