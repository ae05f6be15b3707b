"""kasir.database: write transactions, seen from another connection as another process would."""
import threading

import pytest
from sqlalchemy import event

from kasir.database import write_transaction
from kasir.extensions import db
from kasir.models import Register

from conftest import query_database, sqlite_only


def committed_register_name(app) -> str:
    [(name,)] = query_database(app.config["SQLALCHEMY_DATABASE_URI"], "SELECT name FROM registers WHERE code = '1'")
    return name


def rename_register(name: str) -> None:
    db.session.execute(db.update(Register).where(Register.code == "1").values(name=name))


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
def test_writers_in_one_process_never_meet_sqlites_lock(app):
    """The in-process write lock is handed on only after COMMIT has run: a writer let in during another's
    commit would find SQLite's lock taken. With no busy timeout that surfaces at once as "locked"."""
    with app.app_context():
        event.listen(db.engine, "connect", lambda connection, _record: connection.execute("PRAGMA busy_timeout=0"))
        db.engine.dispose()
    failures = []

    def writer(worker: int) -> None:
        with app.app_context():
            try:
                for turn in range(40):
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
