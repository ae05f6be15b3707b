"""Jobs claim their work with a lease (DESIGN §11): what one run (or one server process) took, another skips."""
from datetime import timedelta

from kasir.clock import business_date, utcnow
from kasir.extensions import db
from kasir.payments import charges, states, sync
from kasir.payments.models import Payment, WebhookDelivery
from kasir.webhooks import service as webhooks
from support.databases import fresh


def test_an_overdue_payment_claimed_by_one_expiry_run_is_skipped_by_the_next(pending_payment):
    overdue = utcnow() + timedelta(minutes=16)
    assert sync._claim_overdue(overdue, 100) == [pending_payment.id]
    assert sync.expire_due(now=overdue) == 0  # still leased to the first run
    assert fresh(Payment, pending_payment.id).status == states.PENDING
    assert sync.expire_due(now=overdue + sync.EXPIRY_LEASE) == 1


def test_sync_leaves_overdue_payments_to_expiry(pending_payment):
    assert sync.sync_pending(now=pending_payment.expires_at + timedelta(seconds=1)) == 0
    assert fresh(Payment, pending_payment.id).sync_count == 0


def test_the_last_sync_is_scheduled_no_later_than_expiry(pending_payment):
    just_before = pending_payment.expires_at - timedelta(seconds=10)
    sync.sync_pending(now=just_before)
    assert fresh(Payment, pending_payment.id).next_sync_at == pending_payment.expires_at


def test_a_sync_run_holds_only_the_payment_it_is_checking(app, api, monkeypatch):
    # Holding the whole batch made each check's commit expire, and the next check reload, every other one.
    for number in range(3):
        api.create(order_id=f"SYNC-{number}")
    held = []
    check_status = sync.check_status

    def checking(payment, *, source):
        held.append(sum(isinstance(instance, Payment) for instance in db.session.identity_map.values()))
        return check_status(payment, source=source)

    monkeypatch.setattr(sync, "check_status", checking)
    with app.app_context():
        sync.sync_pending(now=utcnow() + timedelta(seconds=5))
    assert held == [1, 1, 1]


def test_a_webhook_being_processed_is_left_alone_by_the_reprocessing_job(app, send_webhook, till):
    """The request that stored the delivery holds its lease; the job only takes it once the request let go."""
    order_id = f"POS-1-{business_date():%y%m%d}-0001-1"
    send_webhook({"order_id": order_id, "amount": 7500, "status": "SUCCESS", "ref_no": "R1"}, event_id="evt-early")
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-early"))
    assert delivery.next_attempt_at <= utcnow()  # unmatched: due for the job at once
    delivery.next_attempt_at = utcnow() + webhooks.CLAIM_LEASE  # as while a request is still processing it
    db.session.commit()
    payment = charges.create_for_sale(till.add("SKU0001", "SKU0006").id)
    assert webhooks.reprocess_unmatched() == 0
    db.session.execute(db.update(WebhookDelivery).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert webhooks.reprocess_unmatched() == 1
    assert fresh(Payment, payment.id).status == states.PAID
    assert fresh(WebhookDelivery, delivery.id).next_attempt_at is None


def test_a_webhook_for_a_payment_still_being_created_waits_for_it(app, send_webhook, till):
    """Its QR is being made (CREATED): the event is kept for the job, not dropped as an invalid transition."""
    payment = charges._new_sale_payment(till.add("SKU0001", "SKU0006").id, None)
    response = send_webhook({"order_id": payment.order_id, "amount": 7500, "status": "SUCCESS", "ref_no": "R1"})
    assert response.status_code == 202
    charges.charge(payment)
    assert webhooks.reprocess_unmatched() == 1
    assert fresh(Payment, payment.id).status == states.PAID
