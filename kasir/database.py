"""How Kasir uses SQLite so that a busy till never sees "database is locked".

Reads run in autocommit: each SELECT sees the latest data and holds no snapshot, so a later write
can never fail on a stale snapshot (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out). Writes
run inside BEGIN IMMEDIATE, which takes the write lock up front and waits its turn (busy_timeout):
either a whole block opened with `write_transaction()` / `begin_write()`, for read-check-write rules,
or, for any other flush, a transaction opened just before the flush so its statements commit together.
Within one process, writers queue on a lock before BEGIN IMMEDIATE: SQLite's own busy handler
sleeps in growing steps and turns contention into a convoy; the lock hands over at once.
On PostgreSQL none of this applies: callers lock rows with SELECT … FOR UPDATE (and jobs SKIP LOCKED).
"""
import functools
import mmap
import os
import sqlite3
import threading
from contextlib import contextmanager
from types import SimpleNamespace
from weakref import WeakKeyDictionary

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine

from .extensions import db

_IMMEDIATE = "kasir_begin_immediate"
_IN_WRITE_BLOCK = "kasir_in_write_block"  # session.info: inside write_transaction()
_write_lock = threading.Lock()
_lock_holder = None  # the DBAPI connection whose transaction holds _write_lock


def _begin_immediate(connection) -> None:
    """BEGIN IMMEDIATE after this process's other writers are done."""
    global _lock_holder
    _write_lock.acquire()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _write_lock.release()
        raise
    _lock_holder = connection.connection.dbapi_connection


def _release(dbapi_connection) -> None:
    global _lock_holder
    if _lock_holder is not None and _lock_holder is dbapi_connection:
        _lock_holder = None
        _write_lock.release()


def _releasing_after(end_transaction):
    def run(connection) -> None:
        try:
            end_transaction(connection)
        finally:
            _release(connection.dbapi_connection)
    return run


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
        # Autocommit at the driver: SQLAlchemy's BEGIN below decides when a transaction exists.
        dbapi_connection.isolation_level = None
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
            _begin_immediate(connection)

    # The lock is handed on once the COMMIT or ROLLBACK has run, not at SQLAlchemy's commit/rollback
    # events, which fire before it: a writer let in during another's commit (its fsync) finds SQLite's
    # lock still taken and sleeps in the busy handler's growing steps.
    dialect = engine.dialect
    dialect.do_commit = _releasing_after(dialect.do_commit)
    dialect.do_rollback = _releasing_after(dialect.do_rollback)

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(dbapi_connection, _record):
        _release(dbapi_connection)  # a connection returned without commit or rollback must not keep the lock


@event.listens_for(db.session, "before_flush")
def _writes_in_one_transaction(session, _flush_context, _instances):
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        _begin_immediate(connection)


def primary_key(instance):
    """An ORM object's primary key without reloading it: after a commit expired the object, reading
    `.id` would cost a SELECT, which code that is about to (re)load the row itself does not need."""
    identity = inspect(instance).identity
    return identity[0] if identity else inspect(instance).mapper.primary_key_from_instance(instance)[0]


def in_write_block() -> bool:
    """Inside `write_transaction()`: the session's transaction holds the write lock (SQLite) until it ends."""
    return bool(db.session().info.get(_IN_WRITE_BLOCK))


def begin_write() -> None:
    """Open the session's next transaction holding the database write lock (SQLite BEGIN IMMEDIATE).

    Read-then-write rules (pay a sale, change a payment's state) call this first so no other writer
    can slip in between their check and their change. Any transaction already open is committed,
    except inside `write_transaction()`, whose transaction already holds the lock.
    """
    if in_write_block():
        return
    session = db.session()
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={_IMMEDIATE: True})


@contextmanager
def write_transaction():
    """`with write_transaction():` runs its body under the write lock; commits, or rolls back on error.

    A `write_transaction()` inside another joins it: the outer one commits both or neither, so that
    steps which must be atomic together (a state change and the answer stored for it) cost one commit.
    An error in the inner body must reach the outer block, which rolls back.
    """
    if in_write_block():
        yield
        return
    session = db.session()
    begin_write()
    session.info[_IN_WRITE_BLOCK] = True
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_IN_WRITE_BLOCK, None)


class _Readers:
    """DBAPI connections kept out of SQLAlchemy's pool for RawRead: a checkout from the pool and back,
    with its reset, costs more than the one-row read itself. One per concurrent reader at most, each set
    up by the engine's connect hooks; closed when the engine is disposed."""

    def __init__(self):
        self.free = []  # list.pop and list.append are atomic: no lock needed

    def borrow(self, engine: Engine) -> tuple[list, object]:
        free = self.free
        try:
            return free, free.pop()
        except IndexError:
            pooled = engine.raw_connection()
            pooled.detach()
            return free, pooled.dbapi_connection

    def give_back(self, free: list, connection) -> None:
        if free is self.free:
            free.append(connection)
        else:  # borrowed before the engine was disposed
            connection.close()

    def close_all(self, _engine=None) -> None:
        closing, self.free = self.free, []
        while closing:
            closing.pop().close()


_readers: WeakKeyDictionary[Engine, _Readers] = WeakKeyDictionary()  # an app's engine may go (tests)


def _readers_of(engine: Engine) -> _Readers:
    readers = _readers.get(engine)
    if readers is None:
        readers = _readers.setdefault(engine, _Readers())
        event.listen(engine, "engine_disposed", readers.close_all)
    return readers


class _CommitStamp:
    """Bytes that change whenever a write is committed to a SQLite database, by any connection of any process.

    They are the WAL-index header at the start of the database's "-shm" file (both its copies), which each
    commit rewrites: readers learn of the commit from it (https://www.sqlite.org/walformat.html, the same on
    unix and Windows). Read through a memory map: no system call and no release of the GIL, unlike any
    query, whose every call into SQLite lets the other busy threads in. None where there is no such file
    (not SQLite, not WAL).

    The file stays open, and mapped, until the engine is disposed: on POSIX, closing any descriptor of a file
    drops all of the process's locks on it, SQLite's included, and another process would then take this one
    for gone and reset the shared memory under it. A connection of ours stays open meanwhile, so that SQLite
    keeps the file in use (it removes it with its last connection).
    """

    HEADER_BYTES = 96

    def __init__(self, engine: Engine):
        self.view = self.keeper = self.descriptor = None
        path = engine.url.database
        if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
            return
        try:
            pooled = engine.raw_connection()
            pooled.detach()
            self.keeper = pooled.dbapi_connection
            if self.keeper.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                self.keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()  # maps the WAL-index
                self.descriptor = os.open(f"{path}-shm", os.O_RDONLY | getattr(os, "O_BINARY", 0))
                self.view = mmap.mmap(self.descriptor, self.HEADER_BYTES, access=mmap.ACCESS_READ)
        except (OSError, ValueError, sqlite3.Error):
            self.view = None
        if self.view is None:
            self.descriptor = None  # left open if mapping it failed: closing it would drop SQLite's locks
            self.close()

    def read(self) -> bytes | None:
        try:
            return self.view[:self.HEADER_BYTES] if self.view is not None else None
        except (TypeError, ValueError):  # closed meanwhile: the engine is being disposed
            return None

    def close(self, _engine=None) -> None:
        """When the engine is disposed, after its pool and kasir's readers: our connection goes first (the
        process's last to this file, SQLite tidies up), then the file, whose closing drops the process's locks."""
        view, keeper, descriptor = self.view, self.keeper, self.descriptor
        self.view = self.keeper = self.descriptor = None
        if keeper is not None:
            keeper.close()
        if view is not None:
            view.close()
        if descriptor is not None:
            os.close(descriptor)


_stamps: WeakKeyDictionary[Engine, _CommitStamp] = WeakKeyDictionary()
_stamps_lock = threading.Lock()


def _stamp_of(engine: Engine) -> _CommitStamp:
    stamp = _stamps.get(engine)
    if stamp is None:
        with _stamps_lock:
            stamp = _stamps.get(engine)
            if stamp is None:
                stamp = _stamps[engine] = _CommitStamp(engine)
                event.listen(engine, "engine_disposed", stamp.close)
    return stamp


class RawRead:
    """A Core SELECT compiled once per engine and run straight on a DBAPI connection.

    For the polls every till, display and app sends each second (kasir.fastpath): SQLAlchemy's Connection
    and Result layers cost several times the one-row query itself. Column types still apply (times come
    back as aware UTC datetimes, booleans as bool); parameters go to the driver as they are, so they must
    be plain strings and integers, each a named `bindparam` (no literal values or IN lists, which
    SQLAlchemy binds itself). Reads run in autocommit, as every read here does.

    On SQLite, a row read stays the answer until a write is committed (_CommitStamp): the same poll again
    is answered from memory. So a statement must not read the clock (pass the time as a parameter), and
    its rows are shared: read them, never change them.
    """

    MEMO_SIZE = 1024  # rows kept per statement (a shop polls tens at once); all are dropped when full

    def __init__(self, statement):
        self.statement = statement
        self._compiled: WeakKeyDictionary[Engine, tuple] = WeakKeyDictionary()

    def _compile(self, engine: Engine) -> tuple:
        compiled = self.statement.compile(dialect=engine.dialect)
        processors = tuple(column.type.dialect_impl(engine.dialect).result_processor(engine.dialect, None)
                           for column in self.statement.selected_columns)
        names = tuple(column.key for column in self.statement.selected_columns)
        plan = (compiled.string, compiled.positiontup if compiled.positional else None, names, processors,
                _readers_of(engine), _stamp_of(engine), {})
        self._compiled[engine] = plan
        return plan

    def first(self, engine: Engine, **params) -> SimpleNamespace | None:
        """The first row, its columns as attributes (the names the statement selected), or None."""
        sql, positions, names, processors, readers, stamp, memo = self._compiled.get(engine) or self._compile(engine)
        arguments = [params[name] for name in positions] if positions is not None else params
        committed = stamp.read()  # before the read: a commit after it makes the next read run again
        if committed is not None:
            key = tuple(arguments) if positions is not None else tuple(sorted(params.items()))
            remembered = memo.get(key)
            if remembered is not None and remembered[0] == committed:
                return remembered[1]
        free, connection = readers.borrow(engine)
        try:
            cursor = connection.cursor()
            cursor.execute(sql, arguments)
            row = cursor.fetchone()
            cursor.close()
            connection.rollback()  # PostgreSQL opened a transaction for the SELECT; SQLite's autocommit did not
        except BaseException:
            connection.close()
            raise
        readers.give_back(free, connection)
        if row is not None:
            row = SimpleNamespace(**{name: processor(value) if processor else value
                                     for name, processor, value in zip(names, processors, row)})
        if committed is not None:
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[key] = (committed, row)
        return row


@functools.cache
def column_keys(model) -> dict[str, str]:
    """A mapped class's attribute names -> its table's column keys (`Payment.meta` is column "metadata")."""
    return {prop.key: prop.columns[0].key for prop in inspect(model).column_attrs}


def column_values(instance) -> dict:
    """The column values set on a new ORM object, keyed for a Core insert into its table (which fills
    in the columns' defaults): the object can then be used without the unit of work ever flushing it."""
    keys = column_keys(type(instance))
    return {column: instance.__dict__[attribute] for attribute, column in keys.items()
            if attribute in instance.__dict__}
