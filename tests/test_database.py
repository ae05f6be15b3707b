"""kasir.database: write transactions, seen from another connection as another process would."""
import pytest

from kasir.database import write_transaction
from kasir.extensions import db
from kasir.models import Register

from conftest import query_database


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
