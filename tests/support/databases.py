"""The test databases: throwaway PostgreSQL databases copied from a migrated template, and reading rows back."""
import os
from concurrent.futures import Future, ThreadPoolExecutor

from flask_migrate import upgrade

from kasir import create_app
from kasir.extensions import db
from support.config import BASE_CONFIG, TEST_DATABASE_URL


class PostgresDatabases:
    """Throwaway databases on the server of TEST_DATABASE_URL (its role needs CREATEDB).

    The real migrations run once into a template; each test or live server gets `CREATE DATABASE … TEMPLATE`,
    a file-level copy that costs a fraction of migrating again. Dropping uses FORCE: an engine a test forgot
    to dispose must not keep its database alive.
    """

    def __init__(self, url: str):
        import weakref

        from sqlalchemy import create_engine, event
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool, Pool

        self.url = make_url(url)
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.prefix = f"kasir_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.created: set[str] = set()
        self._count = 0
        self._template_ready = False
        self._copier = ThreadPoolExecutor(max_workers=1)  # one copy at a time: they all read the template
        self._next: Future | None = None
        # Every driver connection this process opens, so that dropping a database first closes the ones a
        # test left in an undisposed engine (psycopg warns about a connection collected while still open).
        self._connections = weakref.WeakSet()
        event.listen(Pool, "connect", lambda dbapi_connection, _record: self._connections.add(dbapi_connection))

    def _execute(self, sql: str) -> None:
        from sqlalchemy import text

        with self.admin.connect() as connection:
            connection.execute(text(sql))

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def template_url(self) -> str:
        if not self._template_ready:
            self._execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
            self._execute(f'CREATE DATABASE "{self.template}"')
            self.created.add(self.template)
            app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self._url(self.template)})
            with app.app_context():
                upgrade(directory=app.extensions["migrate"].directory)
                db.engine.dispose()  # a template with a connection open cannot be copied
            self._template_ready = True
        return self._url(self.template)

    def _copy_template(self) -> str:
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.add(name)
        return name

    def fresh_database(self) -> str:
        """A copy of the template; the next copy is made in the background while this test runs."""
        self.template_url()
        name = (self._next or self._copier.submit(self._copy_template)).result()
        self._next = self._copier.submit(self._copy_template)
        return self._url(name)

    def drop(self, url: str) -> None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import DBAPIError

        name = make_url(url).database
        self._close_connections_to(name)
        try:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except DBAPIError:  # a backend our role may not end (autovacuum): drop_all tries again at the end
            return
        self.created.discard(name)

    def _close_connections_to(self, name: str) -> None:
        for connection in list(self._connections):
            if not connection.closed and connection.info.dbname == name:
                connection.close()

    def drop_all(self) -> None:
        self._copier.shutdown(wait=True)
        for name in sorted(self.created):
            self._close_connections_to(name)
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
        self.admin.dispose()


_postgres: PostgresDatabases | None = None


def postgres() -> PostgresDatabases:
    global _postgres
    if _postgres is None:
        _postgres = PostgresDatabases(TEST_DATABASE_URL)
    return _postgres


def drop_created() -> None:
    """Drop every database this process created (none when the run stayed on SQLite)."""
    if _postgres is not None:
        _postgres.drop_all()


def fresh(model, key):
    """The row as the database has it now, not as this session last saw it."""
    db.session.expire_all()
    return db.session.get(model, key)


def query_database(url: str, sql: str, **params) -> list[tuple]:
    """Rows of one SELECT on any database by URL (a live server's `database_url`): SQLite file or PostgreSQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()
