"""kasir.database: write transactions, seen from another connection as another process would."""
import sqlite3
import threading

import pytest

from kasir.database import _sqlite_writers, write_transaction
from kasir.extensions import db
from kasir.models import Register
from support.config import sqlite_only
from support.databases import query_database


def committed_register_name(app) -> str:
    [(name,)] = query_database(app.config["SQLALCHEMY_DATABASE_URI"], "SELECT name FROM registers WHERE code = '1'")
    return name


def rename_register(name: str) -> None:
    db.session.execute(db.update(Register).where(Register.code == "1").values(name=name))


def another_writer_gets_in(app) -> bool:
    """Whether another connection can take SQLite's write lock now, without waiting."""
    connection = sqlite3.connect(db.engine.url.database, timeout=0, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        connection.close()


def test_a_write_transaction_inside_another_commits_with_the_outer_one(app):
    with app.app_context():
        with write_transaction():
            with write_transaction():
                rename_register("Kasir Depan")
            assert committed_register_name(app) == "Kasir 1"
        assert committed_register_name(app) == "Kasir Depan"


def test_an_error_in_the_inner_write_transaction_rolls_back_the_outer_one_too(app):
    with app.app_context():
        with pytest.raises(RuntimeError):
            with write_transaction():
                rename_register("Kasir Depan")
                with write_transaction():
                    rename_register("Kasir Belakang")
                    raise RuntimeError("printer on fire")
        assert committed_register_name(app) == "Kasir 1"
        with write_transaction():  # the write lock was released
            rename_register("Kasir Samping")
        assert committed_register_name(app) == "Kasir Samping"


@sqlite_only("SQLite's database-wide write lock")
def test_a_write_transaction_holds_the_write_lock_before_its_first_read(app):
    with app.app_context():
        with write_transaction():
            assert not another_writer_gets_in(app)
            db.session.scalar(db.select(Register).where(Register.code == "1"))
        assert another_writer_gets_in(app)


@sqlite_only("SQLite's database-wide write lock")
def test_a_read_outside_a_write_transaction_holds_no_lock(app):
    with app.app_context():
        assert db.session.scalar(db.select(Register.name).where(Register.code == "1")) == "Kasir 1"
        assert another_writer_gets_in(app)


def test_changes_flushed_outside_a_write_transaction_commit_together(app):
    with app.app_context():
        db.session.scalar(db.select(Register).where(Register.code == "1")).name = "Kasir Depan"
        db.session.flush()
        db.session.add(Register(code="9", name="Kasir 9"))
        db.session.flush()
        db.session.rollback()
        assert committed_register_name(app) == "Kasir 1"


@sqlite_only("this process's SQLite writers' turn")
@pytest.mark.parametrize("end", ["commit", "rollback", "remove"])  # remove: the request's teardown
def test_a_flush_outside_a_write_transaction_holds_the_writers_turn_until_its_transaction_ends(app, end):
    """Its writes wait their turn as a write_transaction()'s do, not in SQLite's busy handler (a convoy)."""
    with app.app_context():
        db.session.scalar(db.select(Register).where(Register.code == "1")).name = "Kasir Depan"
        assert not _sqlite_writers.locked()
        db.session.flush()
        assert _sqlite_writers.locked()
        getattr(db.session, end)()
        assert not _sqlite_writers.locked()


def test_writers_in_one_process_wait_their_turn(app):
    failures = []

    def writer(worker: int) -> None:
        with app.app_context():
            try:
                for turn in range(20):
                    with write_transaction():
                        rename_register(f"Kasir {worker}-{turn}")
            except Exception as exc:  # noqa: BLE001 - reported below
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert committed_register_name(app).endswith("-19")
