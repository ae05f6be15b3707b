"""The payment state machine: every (from, to) pair through apply_status."""
import itertools

import pytest

from kasir.extensions import db
from kasir.payments import service, states
from kasir.payments.models import Payment, PaymentLog

PAIRS = list(itertools.product(states.ALL_STATES, states.ALL_STATES))


def payment_in(status: str) -> Payment:
    payment = Payment(order_id=f"TEST-{status}", amount=10_000, provider="mock", status=status)
    db.session.add(payment)
    db.session.commit()
    return payment


@pytest.mark.parametrize("current, target", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_is_applied_or_refused_as_the_table_says(app, current, target):
    with app.app_context():
        payment = payment_in(current)
        logs_before = db.session.scalar(db.select(db.func.count(PaymentLog.id)))
        if current == target:
            outcome = service.apply_status(payment, target, source="test")
            assert not outcome.changed
        elif target in states.TRANSITIONS[current]:
            outcome = service.apply_status(payment, target, source="test")
            assert outcome.changed and outcome.payment.status == target
            log = db.session.scalar(db.select(PaymentLog).where(PaymentLog.payment_id == payment.id))
            assert (log.from_status, log.to_status, log.source) == (current, target, "test")
            assert logs_before + 1 == db.session.scalar(db.select(db.func.count(PaymentLog.id)))
        else:
            with pytest.raises(states.InvalidTransition):
                service.apply_status(payment, target, source="test")
            db.session.expire_all()
            assert db.session.get(Payment, payment.id).status == current
            assert logs_before == db.session.scalar(db.select(db.func.count(PaymentLog.id)))


def test_paid_after_expiry_is_recorded_late_and_flagged(app):
    with app.app_context():
        payment = payment_in(states.EXPIRED)
        outcome = service.apply_status(payment, states.PAID, source="webhook", amount=10_000)
        assert outcome.payment.late is True
        assert "terlambat" in outcome.payment.review_reason


def test_amount_mismatch_changes_nothing(app):
    with app.app_context():
        payment = payment_in(states.PENDING)
        with pytest.raises(service.AmountMismatch):
            service.apply_status(payment, states.PAID, source="webhook", amount=9_999)
        db.session.expire_all()
        assert db.session.get(Payment, payment.id).status == states.PENDING
