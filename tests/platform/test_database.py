"""kasir.database: write transactions, raw reads and raw writes, seen from another connection as another process
would."""
import subprocess
import sys
import threading

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from kasir.clock import utcnow
from kasir.database import RawRead, RawWrite, _Readers, run_write, write_block_memo, write_transaction
from kasir.extensions import db
from kasir.models import Register
from kasir.payments.models import Payment, WebhookDelivery
from support.config import sqlite_only
from support.databases import query_database


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


REGISTER_NAME = RawRead(db.select(Register.name).where(Register.code == db.bindparam("code")))


def reads_of_the_database(monkeypatch) -> list:
    borrowed = []
    borrow = _Readers.borrow
    monkeypatch.setattr(_Readers, "borrow", lambda readers, engine: borrowed.append(engine) or borrow(readers, engine))
    return borrowed


@sqlite_only("the WAL-index of the SQLite file")
def test_a_raw_read_again_is_answered_from_memory_until_a_commit(app, monkeypatch):
    reads = reads_of_the_database(monkeypatch)
    with app.app_context():
        first = REGISTER_NAME.first(db.engine, code="1")
        assert REGISTER_NAME.first(db.engine, code="1") is first and len(reads) == 1
        with write_transaction():
            rename_register("Kasir Depan")
        assert REGISTER_NAME.first(db.engine, code="1").name == "Kasir Depan" and len(reads) == 2


@sqlite_only("the WAL-index of the SQLite file")
def test_a_raw_read_sees_a_commit_made_by_another_process(app):
    with app.app_context():
        assert REGISTER_NAME.first(db.engine, code="1").name == "Kasir 1"
        database = db.engine.url.database
        subprocess.run([sys.executable, "-c", "import sqlite3, sys\n"
                        "with sqlite3.connect(sys.argv[1]) as connection:\n"
                        "    connection.execute(\"UPDATE registers SET name = 'Kasir Belakang' WHERE code = '1'\")",
                        database], check=True)
        assert REGISTER_NAME.first(db.engine, code="1").name == "Kasir Belakang"


def test_a_raw_read_of_a_missing_row_sees_it_once_committed(app):
    with app.app_context():
        assert REGISTER_NAME.first(db.engine, code="9") is None
        db.session.add(Register(code="9", name="Kasir 9"))
        db.session.commit()
        assert REGISTER_NAME.first(db.engine, code="9").name == "Kasir 9"


@sqlite_only("the WAL-index of the SQLite file")
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX record locks")
def test_reading_the_commit_stamp_leaves_sqlite_its_locks_on_the_shared_memory(app):
    # Closing any descriptor of a file drops all of a process's POSIX locks on it: had the stamp done so,
    # another process would take this one's shared memory for abandoned and reset it under its readers.
    with app.app_context():
        REGISTER_NAME.first(db.engine, code="1")
        shared_memory = f"{db.engine.url.database}-shm"
        probe = subprocess.run([sys.executable, "-c", "import fcntl, os, sys\n"
                                "descriptor = os.open(sys.argv[1], os.O_RDWR)\n"
                                "try:\n"
                                # SQLite's DMS byte
                                "    fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)\n"
                                "except OSError:\n"
                                "    print('in use')\n"
                                "else:\n"
                                "    print('abandoned')", shared_memory], capture_output=True, text=True, check=True)
        assert probe.stdout.strip() == "in use"


DELIVERIES = WebhookDelivery.__table__
NEW_DELIVERY = RawWrite(db.insert(DELIVERIES).returning(DELIVERIES.c.id, DELIVERIES.c.status, DELIVERIES.c.received_at))
PAYMENTS = Payment.__table__
PAYMENT_BY_ORDER = RawWrite(db.select(PAYMENTS.c.id, PAYMENTS.c.late, PAYMENTS.c.metadata, PAYMENTS.c.expires_at)
                            .where(PAYMENTS.c.order_id == db.bindparam("order_id")))
SET_PAYMENT = RawWrite(db.update(PAYMENTS).where(PAYMENTS.c.id == db.bindparam("payment_key")))
CANCEL_PAYMENT = RawWrite(db.update(PAYMENTS).where(PAYMENTS.c.id == db.bindparam("payment_key"))
                          .values(status="CANCELLED"))
REGISTER_NAME_TO_WRITE = RawWrite(db.select(Register.name).where(Register.code == db.bindparam("code")))


@pytest.fixture
def stored_payment(app):
    """A payment row (not charged) with metadata and an expiry; its id."""
    with app.app_context():
        payment = Payment(order_id="RAW-1", amount=5000, provider="mock", meta={"table": 7},
                          expires_at=utcnow().replace(microsecond=0))
        db.session.add(payment)
        db.session.commit()
        return payment.id


def test_a_raw_insert_fills_in_the_column_defaults_it_is_not_given(app):
    with app.app_context():
        with write_transaction():
            row = NEW_DELIVERY.first(provider="mock", event_id="evt-raw")
        stored = db.session.get(WebhookDelivery, row.id)
        assert (stored.status, stored.attempts, stored.payload) == ("PENDING", 0, "")
        assert row.status == "PENDING" and row.received_at == stored.received_at and row.received_at.tzinfo is not None


def test_a_raw_select_gives_the_column_types_values(app, stored_payment):
    with app.app_context():
        with write_transaction():
            row = PAYMENT_BY_ORDER.first(order_id="RAW-1")
        assert (row.id, row.late, row.metadata) == (stored_payment, False, {"table": 7})
        assert row.expires_at == db.session.get(Payment, stored_payment).expires_at and row.expires_at.tzinfo


def test_a_raw_update_sets_its_onupdate_columns_and_the_values_it_holds(app, stored_payment):
    with app.app_context():
        before = db.session.get(Payment, stored_payment).updated_at
        with write_transaction():
            assert SET_PAYMENT.execute(payment_key=stored_payment, late=True) == 1
            CANCEL_PAYMENT.execute(payment_key=stored_payment)
        db.session.expire_all()
        payment = db.session.get(Payment, stored_payment)
        assert (payment.late, payment.status) == (True, "CANCELLED") and payment.updated_at > before


def test_a_raw_write_fails_as_sqlalchemy_does_and_rolls_back_with_its_transaction(app):
    with app.app_context():
        with pytest.raises(IntegrityError):
            with write_transaction():
                NEW_DELIVERY.first(provider="mock", event_id="evt-twice")
                NEW_DELIVERY.first(provider="mock", event_id="evt-twice")
        assert db.session.scalar(db.select(db.func.count(WebhookDelivery.id))) == 0


def test_a_raw_write_sees_the_sessions_changes_not_flushed_yet(app):
    with app.app_context():
        with write_transaction():
            db.session.scalar(db.select(Register).where(Register.code == "1")).name = "Kasir Depan"
            assert REGISTER_NAME_TO_WRITE.first(code="1").name == "Kasir Depan"


def test_a_raw_write_outside_a_write_transaction_is_refused(app):
    with app.app_context(), pytest.raises(RuntimeError):
        REGISTER_NAME_TO_WRITE.first(code="1")


def test_the_engines_statement_listeners_see_a_raw_write(app):
    seen = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        with write_transaction():
            REGISTER_NAME_TO_WRITE.first(code="1")
    assert any(statement.startswith("SELECT registers.name") for statement in seen)


def test_a_raw_write_without_a_parameter_its_statement_needs_is_refused(app, stored_payment):
    with app.app_context():
        with pytest.raises(TypeError, match="payment_key"), write_transaction():
            SET_PAYMENT.execute(late=True)


def new_delivery(event_id: str):
    return NEW_DELIVERY.first(provider="mock", event_id=event_id).id


def stored_event_ids(app) -> list:
    return [event_id for (event_id,) in query_database(app.config["SQLALCHEMY_DATABASE_URI"],
                                                       "SELECT event_id FROM webhook_events ORDER BY id")]


def test_run_write_commits_raw_writes_without_the_session(app):
    with app.app_context():
        db.session.execute(db.select(Register)).all()  # the Session had a transaction open: ended first
        assert run_write(lambda: new_delivery("evt-raw")) > 0
        assert not db.session().in_transaction()
    assert stored_event_ids(app) == ["evt-raw"]


def test_work_that_asks_the_session_runs_again_in_a_session_transaction_and_commits_once(app):
    attempts = []

    def work():
        attempts.append(new_delivery(f"evt-{len(attempts)}"))
        rename_register("Kasir Depan")  # a Session statement
        return "done"

    with app.app_context():
        assert run_write(work) == "done"
    assert len(attempts) == 2 and stored_event_ids(app) == ["evt-1"] and committed_register_name(app) == "Kasir Depan"


def test_an_orm_change_made_in_raw_work_is_not_lost(app):
    with app.app_context():
        register = db.session.scalar(db.select(Register).where(Register.code == "1"))

        def work():
            new_delivery("evt-orm")
            register.name = "Kasir Belakang"  # no statement yet: found when the work ends

        run_write(work)
    assert stored_event_ids(app) == ["evt-orm"] and committed_register_name(app) == "Kasir Belakang"


def test_raw_work_that_fails_keeps_nothing_and_releases_the_lock(app):
    with app.app_context():
        with pytest.raises(IntegrityError):
            run_write(lambda: [new_delivery("evt-twice"), new_delivery("evt-twice")])
        assert run_write(lambda: new_delivery("evt-after")) > 0
    assert stored_event_ids(app) == ["evt-after"]


def test_run_write_inside_a_write_transaction_joins_it(app):
    with app.app_context():
        with pytest.raises(RuntimeError):
            with write_transaction():
                run_write(lambda: new_delivery("evt-joined"))
                raise RuntimeError("printer on fire")
    assert stored_event_ids(app) == []


def test_raw_work_sees_rows_read_under_its_lock_only_in_its_own_transaction(app):
    with app.app_context():
        run_write(lambda: write_block_memo().setdefault("seen", 1))
        assert run_write(lambda: write_block_memo().get("seen")) is None
