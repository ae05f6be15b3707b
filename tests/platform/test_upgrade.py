"""`git pull && make run` on a shop PC: a database made by an older Kasir, full of data, migrates forward intact."""
import sqlite3
from contextlib import closing
from datetime import UTC, datetime

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade

from kasir import backup, create_app
from kasir.extensions import db
from kasir.models import Lease, Product, Register, Sale, Setting, User
from support.config import BASE_CONFIG, sqlite_only
from support.live import LiveServer

pytestmark = sqlite_only("upgrades a SQLite file made by an older Kasir")

OLD_REVISION = "0002_print_jobs"

# What a till running the 0002 schema holds: accounts, a register, products, a paid cash sale with its
# items and receipt job, an open cart, settings and an audit row.
OLD_DATA = """
INSERT INTO users (id, username, display_name, role, password_hash, pin_hash, active, must_change_password, created_at)
VALUES (1, 'owner', 'Pemilik', 'admin', 'pbkdf2:sha256:1$x$y', NULL, 1, 0, '2026-11-01 01:00:00.000000'),
       (2, 'siti', 'Siti', 'cashier', NULL, 'pbkdf2:sha256:1$x$z', 1, 0, '2026-11-01 01:00:00.000000');
INSERT INTO registers (id, code, name, active) VALUES (1, '1', 'Kasir 1', 1);
INSERT INTO products (id, sku, barcode, name, category, price, stock, active, created_at, updated_at)
VALUES (1, 'SKU0001', '8991234567890', 'Indomie Goreng 85 g', 'Makanan Instan', 3500, 118, 1,
        '2026-11-01 01:00:00.000000', '2026-11-01 01:00:00.000000'),
       (2, 'SKU0006', NULL, 'Aqua Air Mineral 600 ml', 'Minuman', 4000, 95, 1,
        '2026-11-01 01:00:00.000000', '2026-11-01 01:00:00.000000');
INSERT INTO sales (id, register_id, cashier_id, number, business_date, status, subtotal, discount, total, method,
                   tendered, "change", created_at, updated_at, paid_at)
VALUES (1, 1, 2, 1, '2026-11-20', 'PAID', 11000, 0, 11000, 'CASH', 20000, 9000,
        '2026-11-20 03:00:00.000000', '2026-11-20 03:01:00.000000', '2026-11-20 03:01:00.000000'),
       (2, 1, 2, NULL, NULL, 'OPEN', 3500, 0, 3500, NULL, NULL, NULL,
        '2026-11-20 04:00:00.000000', '2026-11-20 04:00:00.000000', NULL);
INSERT INTO sale_items (id, sale_id, product_id, name, sku, unit_price, quantity, discount)
VALUES (1, 1, 1, 'Indomie Goreng 85 g', 'SKU0001', 3500, 2, 0),
       (2, 1, 2, 'Aqua Air Mineral 600 ml', 'SKU0006', 4000, 1, 0),
       (3, 2, 1, 'Indomie Goreng 85 g', 'SKU0001', 3500, 1, 0);
INSERT INTO print_jobs (id, sale_id, kind, status, attempts, last_error, created_at, printed_at)
VALUES (1, 1, 'receipt', 'PRINTED', 1, NULL, '2026-11-20 03:01:00.000000', '2026-11-20 03:01:02.000000');
INSERT INTO settings (key, value, encrypted) VALUES ('shop_name', 'Toko Berkah', 0);
INSERT INTO audit_log (at, actor, action, target, outcome, detail, ip)
VALUES ('2026-11-20 03:01:00.000000', 'siti', 'Login', 'siti', 'ok', '', '127.0.0.1');
"""


def row_counts(path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as connection:
        return {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("users", "registers", "products", "sales", "sale_items", "print_jobs", "settings",
                              "audit_log")}


@pytest.fixture
def old_app(tmp_path):
    """An app whose SQLite file stops at an older revision, filled with a shop's data."""
    path = tmp_path / "kasir.db"
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory, revision=OLD_REVISION)
        db.engine.dispose()
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(OLD_DATA)
    yield app, path
    with app.app_context():
        db.engine.dispose()


def test_upgrading_an_old_database_keeps_every_row(old_app):
    app, path = old_app
    before = row_counts(path)
    with app.app_context():
        assert backup.upgrade_pending()
        safety = backup.backup_before_upgrade()
        upgrade(directory=app.extensions["migrate"].directory)
        assert not backup.upgrade_pending()

        heads = ScriptDirectory(app.extensions["migrate"].directory).get_heads()
        assert backup.schema_revision(path) in heads
        assert row_counts(path) == before
        assert backup.integrity_problem(path) is None

        sale = db.session.get(Sale, 1)
        assert ((sale.status, sale.total, sale.tendered, sale.change, sale.method)
                == ("PAID", 11000, 20000, 9000, "CASH"))
        assert [(item.sku, item.quantity) for item in sale.items] == [("SKU0001", 2), ("SKU0006", 1)]
        assert sale.display_number == "1-261120-0001"
        assert sale.paid_at.tzinfo is not None
        assert db.session.get(Sale, 2).status == "OPEN"
        assert db.session.scalar(db.select(Product.stock).where(Product.sku == "SKU0001")) == 118
        assert db.session.scalar(db.select(User).where(User.username == "siti")).pin_hash == "pbkdf2:sha256:1$x$z"
        register = db.session.get(Register, 1)
        assert register.display_version == 0  # a column added later gets its default on old rows

    with closing(sqlite3.connect(path)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    assert {"payments", "payment_logs", "webhook_events", "mock_ledger"} <= tables
    assert set(db.metadata.tables) <= tables  # every table the code knows exists after the upgrade

    # The pre-upgrade copy still holds the old schema and data, should the upgrade ever need undoing.
    assert safety is not None and safety.reason == "pre-upgrade"
    assert backup.schema_revision(safety.path) == OLD_REVISION
    assert row_counts(safety.path) == before


@pytest.mark.live
def test_serve_upgrades_an_old_database_before_it_listens(old_app, tmp_path):
    """What `make run` / the systemd unit do after `git pull`: the server migrates, then serves the old data."""
    _app, path = old_app
    server = LiveServer(tmp_path, {"JOBS_ENABLED": "false"}).serve()
    try:
        import requests

        response = requests.get(f"{server.url}/login", timeout=10)
        assert response.status_code == 200
    finally:
        server.stop()
    assert backup.schema_revision(path) != OLD_REVISION
    assert row_counts(path)["sales"] == 2
    assert list((tmp_path / "backups").glob("kasir-*-pre-upgrade.db"))


def test_job_leases_move_from_settings_to_their_own_table(tmp_path):
    path = tmp_path / "kasir.db"
    app = create_app({**BASE_CONFIG, "INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory, revision="0011_payment_logs_event_at")
        db.engine.dispose()
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("INSERT INTO settings (key, value, encrypted) VALUES "
                           "('lease:reconcile_yesterday', '2026-12-05T03:30:00+00:00', 0), ('shop_name', 'Toko', 0)")
    with app.app_context():
        upgrade(directory=directory)
        assert db.session.get(Lease, "reconcile_yesterday").expires_at == datetime(2026, 12, 5, 3, 30, tzinfo=UTC)
        assert db.session.scalars(db.select(Setting.key)).all() == ["shop_name"]
        db.engine.dispose()
