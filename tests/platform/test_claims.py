"""The jobs' shared helpers (kasir.claims): a claim, one row at a time, a lease, a retry schedule."""
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from kasir import claims
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import Lease
from kasir.payments import states
from kasir.payments.models import Payment
from support.config import ON_POSTGRES
from support.databases import fresh

PENDING = db.select(Payment).where(Payment.status == states.PENDING)


def move_on(payment: Payment) -> None:
    payment.next_sync_at = utcnow() + timedelta(hours=1)


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks: SQLite serves one process and has one write lock")
def test_a_row_another_session_is_claiming_is_skipped(pending_payment):
    with Session(db.engine) as other:  # another server process, in the middle of its own claim
        other.scalars(PENDING.with_for_update()).all()
        assert claims.claim(PENDING, move_on) == []
    assert claims.claim(PENDING, move_on) == [pending_payment.id]


def test_a_claimed_row_is_out_of_reach_of_the_next_claim(pending_payment):
    due_within_a_minute = PENDING.where(Payment.next_sync_at <= utcnow() + timedelta(minutes=1))
    assert claims.claim(due_within_a_minute, move_on) == [pending_payment.id]
    assert claims.claim(due_within_a_minute, move_on) == []


def test_an_error_on_one_row_does_not_stop_the_others(app):
    worked = []

    def work(lease: Lease) -> int:
        worked.append(lease.name)
        if lease.name == "b":
            raise RuntimeError("this row is broken")
        return 1

    with app.app_context():
        for name in "abc":
            assert claims.take_lease(name, timedelta(minutes=1))
        assert claims.each(Lease, ["a", "b", "c"], work) == 2
    assert worked == ["a", "b", "c"]


def test_a_failed_row_keeps_none_of_its_changes(app):
    def work(lease: Lease) -> int:
        lease.expires_at = utcnow() + timedelta(days=1)
        raise RuntimeError("failed after a change")

    with app.app_context():
        claims.take_lease("job", timedelta(minutes=1))
        before = fresh(Lease, "job").expires_at
        claims.each(Lease, ["job"], work)
        assert fresh(Lease, "job").expires_at == before


def test_a_held_lease_blocks_another_holder_until_it_expires(app):
    with app.app_context():
        assert claims.take_lease("reconcile_yesterday", timedelta(minutes=30)) is True
        assert claims.take_lease("reconcile_yesterday", timedelta(minutes=30)) is False
        assert claims.take_lease("another_job", timedelta(minutes=30)) is True
        db.session.execute(db.update(Lease).where(Lease.name == "reconcile_yesterday")
                           .values(expires_at=utcnow() - timedelta(seconds=1)))  # as if 30 minutes had passed
        db.session.commit()
        assert claims.take_lease("reconcile_yesterday", timedelta(minutes=30)) is True


def test_backoff_walks_the_schedule_then_gives_up():
    schedule = (timedelta(seconds=5), timedelta(seconds=15), timedelta(minutes=1))
    assert [claims.backoff(schedule, failures) for failures in (1, 2, 3, 4)] == [*schedule, None]
