"""The polls' rows are kept until the next commit (kasir.poll_cache): a steady poll reads nothing, a
change is seen by the first poll after its commit."""
from sqlalchemy import select

from kasir import poll_cache
from kasir.extensions import db
from kasir.models import Register
from kasir.poll_cache import first_row

DISPLAY_VERSION = select(Register.display_version).where(Register.code == "1")


def bump_display(app) -> None:
    with app.app_context():
        db.session.execute(db.update(Register).values(display_version=Register.display_version + 1))
        db.session.commit()


def test_a_row_is_read_once_while_nothing_is_committed(app, monkeypatch):
    monkeypatch.setattr(poll_cache, "TTL_SECONDS", 3600)  # however slow the machine
    with app.app_context():
        assert first_row(DISPLAY_VERSION) is first_row(DISPLAY_VERSION)


def test_a_commit_makes_the_next_read_see_it(app):
    with app.app_context():
        before = first_row(DISPLAY_VERSION).display_version
    bump_display(app)
    with app.app_context():
        assert first_row(DISPLAY_VERSION).display_version == before + 1


def test_a_remembered_value_is_computed_once_until_a_commit(app, monkeypatch):
    monkeypatch.setattr(poll_cache, "TTL_SECONDS", 3600)
    computed = []
    with app.app_context():
        key = ("test", db.engine)
        assert poll_cache.remembered(key, lambda: computed.append(1) or len(computed)) == 1
        assert poll_cache.remembered(key, lambda: computed.append(1) or len(computed)) == 1
    bump_display(app)
    with app.app_context():
        assert poll_cache.remembered(key, lambda: computed.append(1) or len(computed)) == 2
