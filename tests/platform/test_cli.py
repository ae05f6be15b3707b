"""`python -m kasir …` commands: accounts and demo data (DESIGN §9)."""
import re
import subprocess
import sys

import pytest

from kasir import create_app
from kasir.extensions import db
from kasir.models import Product, Register, User
from support.config import PROJECT_ROOT


def user(app, username):
    with app.app_context():
        found = db.session.scalar(db.select(User).where(User.username == username))
        if found is not None:
            db.session.expunge(found)
        return found


def valid_ean13(code: str) -> bool:
    if not (len(code) == 13 and code.isdigit()):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(code[:12]))
    return (10 - total % 10) % 10 == int(code[12])


@pytest.fixture
def empty_app(app_config):
    """A migrated database with no users, products or registers."""
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.engine.dispose()


# --- user create --------------------------------------------------------------------------------------

def test_user_create_makes_a_cashier_with_a_pin(runner, app):
    result = runner.invoke(args=["user", "create", "budi", "--role", "cashier", "--pin", "1234"])
    assert result.exit_code == 0, result.output
    assert "Pengguna budi (cashier) dibuat." in result.output
    budi = user(app, "budi")
    assert budi.role == "cashier" and budi.check_pin("1234") and not budi.must_change_password


def test_user_create_refuses_an_existing_name_clearly(runner):
    runner.invoke(args=["user", "create", "budi", "--role", "cashier", "--pin", "1234"])
    result = runner.invoke(args=["user", "create", "Budi", "--role", "cashier", "--pin", "5678"])
    assert result.exit_code != 0
    assert "Pengguna 'budi' sudah ada." in result.output
    assert "Traceback" not in result.output


def test_admin_without_password_gets_a_printed_temporary_password(runner, app):
    result = runner.invoke(args=["user", "create", "bos", "--role", "admin"])
    assert result.exit_code == 0, result.output
    password = re.search(r"Kata sandi sementara: (\S+)", result.output).group(1)
    bos = user(app, "bos")
    assert bos.role == "admin"
    assert bos.check_password(password)
    assert bos.must_change_password


def test_admin_with_a_password_need_not_change_it(runner, app):
    result = runner.invoke(args=["user", "create", "bos", "--role", "admin", "--password", "sandi-kuat-123"])
    assert result.exit_code == 0, result.output
    assert "sementara" not in result.output
    bos = user(app, "bos")
    assert bos.check_password("sandi-kuat-123") and not bos.must_change_password


@pytest.mark.parametrize("args, message", [
    (["--role", "cashier"], "Isi PIN untuk kasir."),
    (["--role", "cashier", "--pin", "12"], "PIN harus 4–8 angka."),
    (["--role", "admin", "--password", "pendek"], "Kata sandi minimal 10 karakter."),
    (["--role", "admin", "--password", "1234567890123"], "tidak boleh hanya angka"),
    (["--role", "admin", "--password", "Bismillah123"], "terlalu umum"),
])
def test_user_create_refuses_weak_or_missing_secrets(runner, app, args, message):
    result = runner.invoke(args=["user", "create", "budi", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert user(app, "budi") is None


def test_user_create_requires_a_known_role(runner):
    result = runner.invoke(args=["user", "create", "budi", "--role", "manager", "--pin", "1234"])
    assert result.exit_code != 0
    assert "manager" in result.output


# --- user reset-password ------------------------------------------------------------------------------

def test_reset_password_prints_a_temporary_password_that_must_be_changed(runner, app):
    result = runner.invoke(args=["user", "reset-password", "owner"])
    assert result.exit_code == 0, result.output
    password = re.search(r"Kata sandi sementara: (\S+)", result.output).group(1)
    owner = user(app, "owner")
    assert owner.check_password(password)
    assert not owner.check_password("rahasia-toko-1")
    assert owner.must_change_password


def test_reset_password_with_a_given_password_needs_no_change(runner, app):
    result = runner.invoke(args=["user", "reset-password", "owner", "--password", "sandi-baru-123"])
    assert result.exit_code == 0, result.output
    owner = user(app, "owner")
    assert owner.check_password("sandi-baru-123") and not owner.must_change_password


def test_reset_password_of_an_unknown_user_fails_clearly(runner):
    result = runner.invoke(args=["user", "reset-password", "hantu"])
    assert result.exit_code != 0
    assert "Pengguna 'hantu' tidak ada." in result.output


# --- demo-data ----------------------------------------------------------------------------------------

def test_demo_data_on_an_empty_database_prints_the_admin_password_once_and_the_cashier_pin(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    passwords = re.findall(r"Login admin: admin / (\S+)", result.output)
    assert len(passwords) == 1
    assert "Login kasir demo: kasir / PIN 1234" in result.output
    admin = user(empty_app, "admin")
    assert admin.check_password(passwords[0]) and admin.must_change_password
    assert user(empty_app, "kasir").check_pin("1234")


def test_demo_data_loads_about_forty_products_with_valid_ean13_barcodes(empty_app):
    empty_app.test_cli_runner().invoke(args=["demo-data"])
    with empty_app.app_context():
        products = db.session.scalars(db.select(Product)).all()
        registers = db.session.scalars(db.select(Register.code)).all()
    assert 35 <= len(products) <= 50
    assert all(valid_ean13(p.barcode) for p in products), [p.barcode for p in products if not valid_ean13(p.barcode)]
    assert len({p.barcode for p in products}) == len(products)
    assert all(p.price > 0 and p.active for p in products)
    assert registers == ["1"]


def test_demo_data_a_second_time_adds_nothing_and_prints_no_password(empty_app):
    runner = empty_app.test_cli_runner()
    runner.invoke(args=["demo-data"])
    with empty_app.app_context():
        before = (db.session.scalar(db.select(db.func.count(Product.id))),
                  db.session.scalar(db.select(db.func.count(User.id))),
                  db.session.scalar(db.select(db.func.count(Register.id))))
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    assert "Login admin: admin /" not in result.output
    assert "Katalog demo dimuat" not in result.output
    with empty_app.app_context():
        after = (db.session.scalar(db.select(db.func.count(Product.id))),
                 db.session.scalar(db.select(db.func.count(User.id))),
                 db.session.scalar(db.select(db.func.count(Register.id))))
    assert after == before


def test_demo_data_keeps_an_existing_catalogue(runner, app):
    with app.app_context():
        before = db.session.scalar(db.select(db.func.count(Product.id)))
    result = runner.invoke(args=["demo-data"])
    assert result.exit_code == 0, result.output
    assert "Login admin: admin /" not in result.output  # the shop already has an admin (owner)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Product.id))) == before


# --- the real entry point -----------------------------------------------------------------------------

def test_python_dash_m_kasir_runs_the_cli(tmp_path, migrated_db):
    env = {"KASIR_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin", "JOBS_ENABLED": "false"}
    result = subprocess.run([sys.executable, "-m", "kasir", "user", "--help"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "create" in result.stdout and "reset-password" in result.stdout


def test_python_dash_m_kasir_user_create_fails_with_exit_status_1(tmp_path):
    import shutil

    env = {"KASIR_INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "kasir", "db", "upgrade"], cwd=PROJECT_ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    first = subprocess.run([sys.executable, "-m", "kasir", "user", "create", "budi", "--role", "cashier", "--pin",
                            "1234"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    again = subprocess.run([sys.executable, "-m", "kasir", "user", "create", "budi", "--role", "cashier", "--pin",
                            "1234"],
                           cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 1
    assert "Pengguna 'budi' sudah ada." in again.stderr
    assert "Traceback" not in again.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
