"""Backups (online, consistent while writing), restore (verified, refused while serving), pruning, admin page."""
import shutil
import socket
import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from kasir import backup
from kasir.clock import WIB, utcnow
from kasir.extensions import db
from kasir.models import Product
from kasir.runtime import server_lock
from support.config import sqlite_only
from support.live import free_port

sqlite_file = sqlite_only("backups copy the SQLite file; PostgreSQL is backed up with pg_dump")


@pytest.fixture
def app(app):
    # Restore refuses while something listens on HOST:PORT: make sure that is nobody.
    app.config["PORT"] = free_port()
    return app


def product_names(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM products")}


def database_file(app) -> Path:
    with app.app_context():
        return backup.database_path()


def add_product(sku: str, name: str) -> None:
    db.session.add(Product(sku=sku, name=name, category="Tes", price=1000, stock=1))
    db.session.commit()


@sqlite_file
def test_backup_is_a_verified_single_file_named_with_wib_time(app):
    with app.app_context():
        before = utcnow()
        made = backup.create_backup("manual")
    assert made.path.parent == Path(app.instance_path) / "backups"
    assert made.name.startswith(f"kasir-{before.astimezone(WIB):%Y%m%d}-") and made.name.endswith("-manual.db")
    assert made.reason == "manual" and abs(made.created_at - before) < timedelta(seconds=2)
    assert backup.integrity_problem(made.path) is None
    assert not Path(f"{made.path}-wal").exists()  # self-contained: journal_mode=DELETE
    assert "Indomie Goreng 85 g" in product_names(made.path)
    assert list(made.path.parent.glob("*.partial")) == []


@sqlite_file
def test_backup_restore_round_trip_keeps_a_safety_copy_of_the_replaced_data(app):
    with app.app_context():
        add_product("BK-1", "Sebelum Cadangan")
        made = backup.create_backup("manual")
        add_product("BK-2", "Setelah Cadangan")  # lives in the -wal while the app's connections are open
        db.session.remove()
        safety = backup.restore_backup(made.path)
        names = set(db.session.scalars(db.select(Product.name)))
    assert "Sebelum Cadangan" in names and "Setelah Cadangan" not in names
    assert safety is not None and safety.reason == "pre-restore"
    assert "Setelah Cadangan" in product_names(safety.path)  # its -wal was kept beside it
    database = database_file(app)
    assert backup.integrity_problem(database) is None
    assert not Path(f"{database}.restoring").exists()


@sqlite_file
def test_backups_taken_while_the_till_writes_are_consistent(app):
    """Each write adds a pair of rows in one transaction: a consistent snapshot never holds half a pair."""
    database = database_file(app)
    with closing(sqlite3.connect(database)) as setup:
        setup.execute("CREATE TABLE pairs (n INTEGER)")
        setup.commit()
    stop = threading.Event()

    def writer():
        with closing(sqlite3.connect(database, timeout=10, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            while not stop.is_set():
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany("INSERT INTO pairs VALUES (?)", [(1,), (2,)])
                connection.execute("COMMIT")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with app.app_context():
            copies = [backup.create_backup("manual") for _ in range(5)]
    finally:
        stop.set()
        thread.join()
    counts = []
    for copy in copies:
        assert backup.integrity_problem(copy.path) is None
        with closing(sqlite3.connect(copy.path)) as connection:
            counts.append(connection.execute("SELECT count(*) FROM pairs").fetchone()[0])
    assert all(count % 2 == 0 for count in counts), counts
    assert counts[-1] > 0


@sqlite_file
def test_restore_is_refused_while_the_server_holds_its_lock(app):
    with app.app_context():
        made = backup.create_backup("manual")
        with server_lock(Path(app.instance_path)):
            with pytest.raises(backup.BackupError, match="masih berjalan"):
                backup.restore_backup(made.path)
        assert backup.restore_backup(made.path) is not None  # lock released: allowed


@sqlite_file
def test_restore_is_refused_while_something_listens_on_the_server_port(app):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        app.config["PORT"] = listener.getsockname()[1]
        with app.app_context():
            made = backup.create_backup("manual")
            with pytest.raises(backup.BackupError, match="masih berjalan"):
                backup.restore_backup(made.path)


@sqlite_file
@pytest.mark.parametrize("damage, message", [
    ("garbage", "bukan database SQLite"),
    ("truncated", "rusak|bukan database SQLite"),
    ("no_schema_version", "bukan cadangan Kasir"),
    ("newer_schema", "versi Kasir yang lebih baru"),
])
def test_restore_refuses_a_bad_backup_and_leaves_the_database_alone(app, tmp_path, damage, message):
    with app.app_context():
        add_product("BK-3", "Tetap Ada")
        made = backup.create_backup("manual")
    bad = tmp_path / "bad.db"
    if damage == "garbage":
        bad.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        bad.write_bytes(made.path.read_bytes()[: made.size // 2])
    else:
        shutil.copy(made.path, bad)
        with closing(sqlite3.connect(bad)) as connection:
            statement = ("DROP TABLE alembic_version" if damage == "no_schema_version"
                         else "UPDATE alembic_version SET version_num = '9999_future'")
            connection.execute(statement)
            connection.commit()
    with app.app_context():
        db.session.remove()
        with pytest.raises(backup.BackupError, match=message):
            backup.restore_backup(bad)
        assert "Tetap Ada" in set(db.session.scalars(db.select(Product.name)))
        assert [b.reason for b in backup.list_backups()] == ["manual"]  # no safety copy: nothing was replaced


@sqlite_file
def test_daily_backup_makes_one_per_wib_day_and_prunes_old_ones(app):
    app.config["BACKUP_KEEP_DAYS"] = 14
    folder = Path(app.instance_path) / "backups"
    folder.mkdir()
    old_stamp = (utcnow() - timedelta(days=15)).astimezone(WIB)
    old = folder / f"kasir-{old_stamp:%Y%m%d-%H%M%S}-daily.db"
    recent = folder / f"kasir-{utcnow() - timedelta(days=13):%Y%m%d-%H%M%S}-manual.db"
    unrelated = folder / "catatan.txt"
    for path in (old, recent, unrelated):
        path.write_bytes(b"")
    with app.app_context():
        first = backup.daily_backup()
        second = backup.daily_backup()
        reasons = [b.reason for b in backup.list_backups()]
    assert first is not None and first.reason == "daily"
    assert second is None
    assert reasons.count("daily") == 1
    assert not old.exists() and recent.exists() and unrelated.exists()


def test_postgresql_is_pointed_to_pg_dump(app):
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql://kasir@localhost/kasir"
    with app.app_context():
        with pytest.raises(backup.BackupError, match="pg_dump"):
            backup.create_backup("manual")
        assert backup.daily_backup() is None
        assert backup.backup_before_upgrade() is None


@sqlite_file
def test_backup_and_restore_commands(app, runner):
    made = runner.invoke(args=["backup"])
    assert made.exit_code == 0, made.output
    assert "Cadangan dibuat:" in made.output
    with app.app_context():
        name = backup.list_backups()[0].name
    restored = runner.invoke(args=["restore", name, "--yes"])  # a bare name means one in instance/backups/
    assert restored.exit_code == 0, restored.output
    assert "Database dipulihkan" in restored.output and "pre-restore" in restored.output
    refused = runner.invoke(args=["restore", "tidak-ada.db", "--yes"])
    assert refused.exit_code != 0 and "tidak ada" in refused.output and "Traceback" not in refused.output


@sqlite_file
def test_backup_before_upgrade_only_when_migrations_are_pending(app, runner):
    assert runner.invoke(args=["backup", "--before-upgrade"]).output == ""  # up to date: nothing to keep
    with closing(sqlite3.connect(database_file(app))) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0002_print_jobs'")
        connection.commit()
    result = runner.invoke(args=["backup", "--before-upgrade"])
    assert result.exit_code == 0 and "-pre-upgrade.db" in result.output


# --- admin page ---------------------------------------------------------------------------------------

@sqlite_file
def test_admin_lists_makes_and_downloads_backups(app, client, auth):
    auth.login_admin()
    page = client.get("/admin/backups")
    assert page.status_code == 200 and "Belum ada cadangan." in page.text and "Cadangan Data" in page.text
    made = client.post("/admin/backups", follow_redirects=True)
    assert made.status_code == 200 and "Buat Cadangan Sekarang" in made.text
    with app.app_context():
        name = backup.list_backups()[0].name
    assert name in made.text and "Manual" in made.text
    download = client.get(f"/admin/backups/{name}")
    assert download.status_code == 200
    assert download.data.startswith(b"SQLite format 3\x00")
    assert f'filename={name}' in download.headers["Content-Disposition"]
    download.close()


@pytest.mark.parametrize("name", ["..%2Fkasir.db", "kasir.db", "secret_key", "kasir-20260101-000000-daily.db"])
def test_admin_download_is_confined_to_existing_backups(client, auth, name):
    auth.login_admin()
    assert client.get(f"/admin/backups/{name}").status_code == 404


def test_backups_page_is_for_admins_only(client, auth):
    auth.login_cashier()
    assert client.get("/admin/backups").status_code in (302, 403)
    assert client.post("/admin/backups").status_code in (302, 403)
