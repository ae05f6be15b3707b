"""How Kasir uses SQLite so that a busy till never sees "database is locked".

Reads run in autocommit: each SELECT sees the latest data and holds no snapshot, so a later write
can never fail on a stale snapshot (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out). Writes
run inside BEGIN IMMEDIATE, which takes the write lock up front and waits its turn (busy_timeout):
either a whole block opened with `write_transaction()` / `begin_write()` / `run_write()`, for
read-check-write rules, or, for any other flush, a transaction opened just before the flush so its
statements commit together.
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
from dataclasses import dataclass
from types import SimpleNamespace
from weakref import WeakKeyDictionary

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .extensions import db

_IMMEDIATE = "kasir_begin_immediate"
_IN_WRITE_BLOCK = "kasir_in_write_block"  # session.info: inside write_transaction(), its Connection
_BLOCK_MEMO = "kasir_write_block_memo"  # session.info: write_block_memo()
_write_lock = threading.Lock()
_lock_holder = None  # the DBAPI connection whose transaction holds _write_lock


def _begin_immediate(connection) -> None:
    _lock_for_writing(connection.connection.dbapi_connection, connection.dialect)


def _lock_for_writing(dbapi_connection, dialect) -> None:
    """BEGIN IMMEDIATE after this process's other writers are done."""
    global _lock_holder
    _write_lock.acquire()
    try:
        cursor = dbapi_connection.cursor()
        try:
            _execute(cursor, dialect, "BEGIN IMMEDIATE", ())  # as a statement, without SQLAlchemy's cost
        finally:
            cursor.close()
    except BaseException:
        _write_lock.release()
        raise
    _lock_holder = dbapi_connection


def _execute(cursor, dialect, sql: str, arguments) -> None:
    """Run a statement on a DBAPI cursor; a database error is raised as SQLAlchemy's (an IntegrityError…)."""
    try:
        cursor.execute(sql, arguments)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, arguments, exc, dialect.loaded_dbapi.Error, dialect=dialect) from exc


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
    _refuse_in_raw_block(session)
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        _begin_immediate(connection)


def primary_key(instance):
    """An ORM object's primary key without reloading it: after a commit expired the object, reading
    `.id` would cost a SELECT, which code that is about to (re)load the row itself does not need.
    A row standing in for an object (RawRead, RawWrite) has it as `.id`."""
    state = inspect(instance, raiseerr=False)
    if state is None:
        return instance.id
    return state.identity[0] if state.identity else state.mapper.primary_key_from_instance(instance)[0]


def write_block_memo() -> dict:
    """A dict for the current write transaction (or run_write attempt) alone, such as rows read under its lock."""
    info = db.session().info
    if info.get(_IN_WRITE_BLOCK) is None:
        raise RuntimeError("write_block_memo() is for inside write_transaction() or run_write()")
    return info.setdefault(_BLOCK_MEMO, {})


def in_write_block() -> bool:
    """Inside `write_transaction()` or `run_write()`: its transaction holds the write lock (SQLite) until it ends."""
    return db.session().info.get(_IN_WRITE_BLOCK) is not None


def begin_write() -> Connection:
    """Open the session's next transaction holding the database write lock (SQLite BEGIN IMMEDIATE); its connection.

    Read-then-write rules (pay a sale, change a payment's state) call this first so no other writer
    can slip in between their check and their change. Any transaction already open is committed,
    except inside `write_transaction()`, whose transaction already holds the lock.
    """
    session = db.session()
    connection = session.info.get(_IN_WRITE_BLOCK)
    if connection is not None:
        _refuse_in_raw_block(session)
        return connection
    if session.in_transaction():
        session.commit()
    return session.connection(execution_options={_IMMEDIATE: True})


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
    session.info[_IN_WRITE_BLOCK] = begin_write()
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_IN_WRITE_BLOCK, None)
        session.info.pop(_BLOCK_MEMO, None)


class SessionNeeded(BaseException):
    """The work of `run_write()` asked the Session for something: it runs again in `write_transaction()`.
    A BaseException, so that no `except Exception` in the work takes it for a failure of its own."""


@dataclass
class _RawBlock:
    """session.info[_IN_WRITE_BLOCK] while `run_write()` runs its work without the Session."""
    engine: Engine
    dbapi_connection: object


def _refuse_in_raw_block(session, *_event_args) -> None:
    if isinstance(session.info.get(_IN_WRITE_BLOCK), _RawBlock):
        raise SessionNeeded()


# Anything the Session is asked for inside a raw block: a query or flush (it takes a connection), an object added.
event.listen(db.session, "after_begin", _refuse_in_raw_block)
event.listen(db.session, "transient_to_pending", _refuse_in_raw_block)


def _is_clean(session) -> bool:
    return not (session.new or session.dirty or session.deleted)


def run_write(work):
    """`work()` in one write transaction; its result.

    First on a DBAPI connection of kasir's own, without the Session, whose transaction costs more than a
    webhook's statements: for work that writes through RawWrite alone. If the work asks the Session for
    anything (a query, an object to add or change, `begin_write`), that attempt rolls back and the work
    runs again in `write_transaction()`: it must have no effect outside the database. Inside a write
    transaction already, or with changes pending in the Session, it runs in `write_transaction()` at once.
    """
    session = db.session()
    if session.info.get(_IN_WRITE_BLOCK) is None and _is_clean(session):
        if session.in_transaction():
            session.commit()  # as begin_write does: the work sees what was read before as committed
        try:
            return _run_raw(session, db.engine, work)
        except SessionNeeded:
            session.rollback()  # whatever the attempt left in the Session
    with write_transaction():
        return work()


def _run_raw(session, engine: Engine, work):
    readers = _readers_of(engine)
    free, connection = readers.borrow(engine)
    reusable = True
    session.info[_IN_WRITE_BLOCK] = _RawBlock(engine, connection)
    try:
        try:
            if engine.dialect.name == "sqlite":
                _lock_for_writing(connection, engine.dialect)
            result = work()
            if not _is_clean(session):  # an ORM change made in the work would miss this transaction
                raise SessionNeeded()
            connection.commit()
            if engine.dispatch.commit:  # the engine's listeners see it, as its statements (without a Connection)
                engine.dispatch.commit(None)
            session.expire_all()  # as the Session's commit would (a request's Session holds nothing: no cost)
            return result
        except BaseException:
            try:
                connection.rollback()
            except Exception:
                reusable = False
            raise
        finally:
            _release(connection)
    finally:
        session.info.pop(_IN_WRITE_BLOCK, None)
        session.info.pop(_BLOCK_MEMO, None)
        if reusable:
            readers.give_back(free, connection)
        else:
            connection.close()


class _Readers:
    """DBAPI connections kept out of SQLAlchemy's pool for RawRead and run_write: a checkout from the pool and
    back, with its reset, costs more than the one-row read itself. One per concurrent reader or raw writer at
    most, each set up by the engine's connect hooks; closed when the engine is disposed."""

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


def _result_shape(columns, dialect) -> tuple[tuple, tuple]:
    """The names and result processors of a statement's selected (or returned) columns."""
    return (tuple(column.key for column in columns),
            tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns))


def _namespace(names: tuple, processors: tuple, row) -> SimpleNamespace:
    return SimpleNamespace(**{name: processor(value) if processor else value
                              for name, processor, value in zip(names, processors, row)})


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
        names, processors = _result_shape(self.statement.selected_columns, engine.dialect)
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
            row = _namespace(names, processors, row)
        if committed is not None:
            if len(memo) >= self.MEMO_SIZE:
                memo.clear()
            memo[key] = (committed, row)
        return row


def _value_of(bind, column_default):
    """A function of nothing giving a parameter the caller does not pass: the column's Python default (a
    value, or a function) that Core made a parameter, or a value the statement holds (`.values(state="DONE")`)."""
    if column_default is not None and bind.value is None and bind.callable is None:
        if column_default.is_callable:
            return functools.partial(column_default.arg, None)
        return lambda: column_default.arg
    if bind.required:
        raise TypeError(f"a value is required for the parameter {bind.key!r}")
    return lambda: bind.effective_value


class RawWrite:
    """A Core statement compiled once per engine and set of parameter names, run straight on the DBAPI
    connection of the session's `write_transaction()`, or of `run_write()`'s attempt without the Session.

    For the statements of a payment's state change, a new API payment and a webhook's intake, which
    SQLAlchemy's Session and Connection layers cost several times over. Within the transaction it behaves
    as `session.execute` would: pending ORM changes are flushed first; column types apply both ways;
    an INSERT fills in the columns' Python defaults and an UPDATE their `onupdate` for columns it is not
    given; a database error is raised as SQLAlchemy's (an IntegrityError, say); the engine's
    before_cursor_execute listeners see the statement. As with Core, an UPDATE's SET clause is the
    parameters named after columns (others are the WHERE clause's bindparams).
    """

    def __init__(self, statement):
        self.statement = statement
        self._plans: WeakKeyDictionary[Engine, dict] = WeakKeyDictionary()

    def _compile(self, engine: Engine, names) -> tuple:
        statement, dialect = self.statement, engine.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        defaults = {}
        if statement.is_dml and (statement.is_insert or statement.is_update):
            for column in statement.table.columns:
                default = column.default if statement.is_insert else column.onupdate
                if default is not None and (default.is_scalar or default.is_callable):
                    defaults[column.key] = default
        binds = []
        for name in (compiled.positiontup if compiled.positional else compiled.binds):
            bind = compiled.binds[name]
            binds.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect),
                          None if name in names else _value_of(bind, defaults.get(name))))
        returned = _result_shape(statement.exported_columns, dialect) if statement.exported_columns else None
        plan = (compiled.string, compiled.positional, tuple(binds), returned)
        self._plans.setdefault(engine, {})[frozenset(names)] = plan
        return plan

    def _run(self, params: dict):
        session = db.session()
        block = session.info.get(_IN_WRITE_BLOCK)
        if block is None:
            raise RuntimeError("RawWrite runs inside write_transaction() or run_write()")
        if isinstance(block, _RawBlock):
            if not _is_clean(session):
                raise SessionNeeded()
            engine, dbapi_connection, connection = block.engine, block.dbapi_connection, None
        else:
            session.flush()  # as session.execute autoflushes
            engine, dbapi_connection, connection = block.engine, block.connection.dbapi_connection, block
        sql, positional, binds, returned = self._plans.get(engine, {}).get(frozenset(params)) \
            or self._compile(engine, params)
        values = []
        for name, processor, default in binds:
            value = params[name] if default is None else default()
            values.append((name, processor(value) if processor else value))
        arguments = [value for _, value in values] if positional else dict(values)
        cursor = dbapi_connection.cursor()
        try:
            if engine.dispatch.before_cursor_execute:  # (no Connection in run_write's raw attempt)
                engine.dispatch.before_cursor_execute(connection, cursor, sql, arguments, None, False)
            _execute(cursor, engine.dialect, sql, arguments)
            rows = cursor.fetchall() if returned is not None else None
            return cursor.rowcount, rows, returned
        finally:
            cursor.close()

    def execute(self, **params) -> int:
        """Run the statement; the number of rows it changed."""
        return self._run(params)[0]

    def first(self, **params) -> SimpleNamespace | None:
        """The first row the statement selects or returns, its columns as attributes, or None."""
        _, rows, (names, processors) = self._run(params)
        return _namespace(names, processors, rows[0]) if rows else None


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
