"""POST /webhooks/qris: stored first, verified, deduplicated, amount-checked, converging via apply_status."""
import json
import logging
import time

import pytest
from sqlalchemy import event

from kasir.clock import business_date
from kasir.database import write_transaction
from kasir.extensions import db
from kasir.models import AuditLog
from kasir.payments import charges, service, states
from kasir.payments.models import WEBHOOK_PENDING, Payment, PaymentLog, WebhookDelivery
from kasir.payments.providers import generic
from kasir.payments.providers.base import WebhookEvent
from kasir.webhooks import service as intake
from support.config import ON_POSTGRES
from support.payments import paid_body


def status_of(payment):
    db.session.commit()
    return db.session.get(Payment, payment.id).status


def test_signed_success_marks_the_payment_paid(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment))
    assert response.status_code == 200 and response.json["result"] == "applied"
    assert status_of(pending_payment) == states.PAID


def test_every_delivery_is_stored(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment), event_id="evt-1")
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-1"))
    assert delivery.status == "OK" and delivery.payment_id == pending_payment.id
    assert "X-Signature" not in delivery.headers


def test_bad_signature_is_401_and_applies_nothing(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment), secret="not-the-secret")
    assert response.status_code == 401
    assert status_of(pending_payment) == states.PENDING


def test_missing_signature_is_401(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment), headers={"X-Signature": ""})
    assert response.status_code == 401


def test_stale_timestamp_is_401(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment), timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert status_of(pending_payment) == states.PENDING


def test_body_changed_by_one_byte_is_401(client, app, pending_payment):
    import json

    raw = json.dumps(paid_body(pending_payment)).encode()
    headers = generic.signed_headers(app.config["PROVIDER_WEBHOOK_SECRET"], raw, "evt-x")
    tampered = raw.replace(b"7500", b"7501")
    assert client.post("/webhooks/qris", data=tampered, headers=headers).status_code == 401


def test_signature_helpers_agree_on_good_and_refuse_bad():
    raw = b'{"a": 1}'
    headers = generic.signed_headers("s3cret", raw, "evt-1")
    assert generic.verify(headers, raw, "s3cret") == "evt-1"
    for broken in ({**headers, "X-Signature": "00" * 32}, {**headers, "X-Timestamp": "soon"},
                   {**headers, "X-Event-Id": ""}):
        try:
            generic.verify(broken, raw, "s3cret")
        except generic.SignatureError:
            continue
        raise AssertionError(f"accepted {broken}")


def test_same_event_id_twice_is_a_duplicate_with_no_effect(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment), event_id="evt-dup")
    again = send_webhook(paid_body(pending_payment), event_id="evt-dup")
    assert again.status_code == 200 and again.json == {"result": "duplicate"}
    assert db.session.scalar(db.select(db.func.count(PaymentLog.id)).where(PaymentLog.to_status == states.PAID)) == 1


def test_many_replays_make_one_transition(send_webhook, pending_payment):
    codes = {send_webhook(paid_body(pending_payment), event_id=f"evt-{n % 3}").status_code for n in range(30)}
    assert codes == {200}
    assert db.session.scalar(db.select(db.func.count(PaymentLog.id)).where(PaymentLog.to_status == states.PAID)) == 1


def test_amount_mismatch_is_422_unchanged_and_audited(send_webhook, pending_payment):
    response = send_webhook(paid_body(pending_payment, amount=7000))
    assert response.status_code == 422 and response.json["error"]["code"] == "amount_mismatch"
    assert status_of(pending_payment) == states.PENDING
    assert db.session.scalar(db.select(AuditLog.action).where(AuditLog.action == "WebhookAmountMismatch"))


def test_malformed_body_is_400(send_webhook):
    assert send_webhook({}, raw=b"not json").status_code == 400
    assert send_webhook({"status": "SUCCESS", "amount": "7500", "order_id": "X"}).status_code == 400


def test_unknown_payment_is_202_and_applied_later_by_the_job(app, send_webhook, till):
    from kasir.webhooks.service import reprocess_unmatched

    sale = till.add("SKU0001", "SKU0006")
    order_id = f"POS-1-{business_date():%y%m%d}-0001-1"
    response = send_webhook({"order_id": order_id, "amount": 7500, "status": "SUCCESS", "ref_no": "R1"})
    assert response.status_code == 202
    payment = charges.create_for_sale(sale.id)
    assert payment.order_id == order_id
    assert reprocess_unmatched() == 1
    assert status_of(payment) == states.PAID


def test_failed_status_fails_the_payment(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment, status="FAILED"))
    assert status_of(pending_payment) == states.FAILED


def test_webhook_needs_no_csrf_token(app_config, pending_payment):
    # Enabled CSRF must not block gateways: the signature is their authentication.
    from kasir import create_app

    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    import json

    raw = json.dumps(paid_body(pending_payment)).encode()
    headers = generic.signed_headers(app.config["PROVIDER_WEBHOOK_SECRET"], raw, "evt-csrf")
    assert app.test_client().post("/webhooks/qris", data=raw, headers=headers).status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_a_replay_completes_a_delivery_whose_server_died_before_processing_it(app, pending_payment, send_webhook):
    body = paid_body(pending_payment)
    with app.app_context():  # stored, then the server was killed before it applied the event
        db.session.add(WebhookDelivery(provider="mock", event_id="evt-cut", status=WEBHOOK_PENDING,
                                       payload=json.dumps(body), headers={}, attempts=1))
        db.session.commit()
    reply = send_webhook(body, event_id="evt-cut")
    assert reply.status_code == 200 and reply.get_json() == {"result": "duplicate"}
    with app.app_context():
        assert db.session.get(Payment, pending_payment.id).status == "PAID"


def test_a_refused_amount_is_stored_with_its_error_and_its_replay_is_a_duplicate(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment, amount=7000), event_id="evt-short")
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-short"))
    assert delivery.status == "ERROR" and delivery.error.startswith("amount mismatch")
    again = send_webhook(paid_body(pending_payment, amount=7000), event_id="evt-short")
    assert again.status_code == 200 and again.json == {"result": "duplicate"}
    assert db.session.scalar(db.select(db.func.count(AuditLog.id))
                             .where(AuditLog.action == "WebhookAmountMismatch")) == 1


def test_an_event_the_state_machine_refuses_is_stored_as_ignored(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment))
    reply = send_webhook(paid_body(pending_payment, status="FAILED"), event_id="evt-late-fail")
    assert reply.status_code == 200 and reply.json == {"result": "ignored", "status": "PAID"}
    delivery = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-late-fail"))
    assert delivery.status == "OK" and delivery.error.startswith("ignored") and delivery.processed_at is not None
    assert status_of(pending_payment) == states.PAID


def test_a_delivery_whose_processing_fails_is_kept_and_applied_by_the_job(app, send_webhook, pending_payment,
                                                                         monkeypatch):
    from kasir.payments import service
    from kasir.webhooks.service import reprocess_unmatched

    real_apply_status = service.apply_status
    monkeypatch.setattr(service, "apply_status", lambda *args, **kwargs: 1 / 0)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert send_webhook(paid_body(pending_payment), event_id="evt-fails").status_code == 500
    assert status_of(pending_payment) == states.PENDING
    kept = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-fails"))
    assert kept.status == WEBHOOK_PENDING
    monkeypatch.setattr(service, "apply_status", real_apply_status)
    assert reprocess_unmatched() == 1
    assert status_of(pending_payment) == states.PAID


def test_a_webhook_that_fails_unexpectedly_gets_the_json_500_and_no_detail(app, send_webhook, pending_payment,
                                                                          monkeypatch):
    monkeypatch.setattr(service, "apply_status", lambda *args, **kwargs: 1 / 0)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    answer = send_webhook(paid_body(pending_payment), event_id="evt-broken")
    assert answer.status_code == 500
    assert answer.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side.",
                                           "details": {}}}


def test_a_webhook_over_the_size_limit_is_413(app, send_webhook):
    app.config["MAX_CONTENT_LENGTH"] = 100
    answer = send_webhook({}, raw=b"x" * 101)
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "payload_too_large"


def test_a_webhook_is_an_info_log_line(send_webhook, pending_payment, caplog):
    with caplog.at_level(logging.INFO, logger="kasir.request"):
        caplog.clear()
        send_webhook(paid_body(pending_payment))
    assert [record.getMessage() for record in caplog.records if record.name == "kasir.request"] == \
        ["POST /webhooks/qris 200"]


@pytest.fixture
def payment_reads(app):
    """The SELECTs of payments rows while the test runs."""
    reads = []

    def seen(_connection, _cursor, statement, *_rest):
        if statement.startswith("SELECT") and "\nFROM payments" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    yield reads
    event.remove(engine, "before_cursor_execute", seen)


def found_by_the_intake(payment):
    """The payment as the webhook intake finds (and locks) it for a PAID event, inside the caller's transaction."""
    return intake.find_payment(WebhookEvent(event_id="evt-1", reference=payment.order_id, provider_trx_id=None,
                                            status=states.PAID, amount=payment.amount, ref_no=None))


def test_a_payment_the_intake_found_is_read_again_in_a_later_transaction(app, pending_payment, payment_reads):
    with write_transaction():
        found = found_by_the_intake(pending_payment)
        amount = found.amount
    payment_reads.clear()
    service.apply_status(found, states.PAID, source="webhook", amount=amount)
    assert len(payment_reads) == 1 and (not ON_POSTGRES or "FOR UPDATE" in payment_reads[0])  # locked anew


def test_a_payment_the_intake_found_is_not_read_again_in_the_same_transaction(app, pending_payment, payment_reads):
    with write_transaction():
        found = found_by_the_intake(pending_payment)
        payment_reads.clear()
        outcome = service.apply_status(found, states.PAID, source="webhook", amount=found.amount)
    assert payment_reads == [] and outcome.changed and outcome.payment is found


# -- refused deliveries: counted, sampled and limited, never stored (issue 21, item 1) ------------------
def test_a_refused_delivery_is_counted_with_a_small_sample_not_stored(app, send_webhook, pending_payment):
    from kasir.payments.models import WebhookRejection
    from kasir.webhooks import rejections

    padded = {**paid_body(pending_payment), "padding": "x" * 20_000}
    for _ in range(5):
        assert send_webhook(padded, secret="not-the-secret").status_code == 401
    assert send_webhook({}, raw=b"not json" * 2_000).status_code == 400
    assert db.session.scalar(db.select(db.func.count(WebhookDelivery.id))) == 0
    rejections.flush()
    rows = {row.outcome: row for row in db.session.scalars(db.select(WebhookRejection))}
    assert (rows["rejected"].count, rows["malformed"].count) == (5, 1)
    samples = rows["rejected"].samples
    assert len(samples) == rejections.SAMPLES_PER_ROW and samples[0]["reason"] == "bad signature"
    assert all(len(sample["body"]) <= rejections.SAMPLE_BODY_CHARS and "X-Signature" not in sample["headers"]
               for sample in samples)


def test_counts_of_later_flushes_add_to_the_same_hours_row(app, send_webhook, pending_payment):
    from kasir.payments.models import WebhookRejection
    from kasir.webhooks import rejections

    for _ in range(2):
        send_webhook(paid_body(pending_payment), secret="not-the-secret")
        rejections.flush()
    [row] = db.session.scalars(db.select(WebhookRejection)).all()
    assert row.count == 2 and len(row.samples) == 2 and row.source == "127.0.0.1"


def test_a_sender_past_its_refusal_limit_gets_429_before_anything_is_checked(app_config, pending_payment):
    from kasir import create_app

    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "WEBHOOK_REFUSED_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    raw = json.dumps(paid_body(pending_payment)).encode()
    forged = generic.signed_headers("not-the-secret", raw, "evt-forged")
    assert [client.post("/webhooks/qris", data=raw, headers=forged).status_code for _ in range(4)] == [401] * 3 + [429]
    genuine = generic.signed_headers(app.config["PROVIDER_WEBHOOK_SECRET"], raw, "evt-genuine")
    assert client.post("/webhooks/qris", data=raw, headers=genuine).status_code == 429  # retried by the gateway
    other_sender = client.post("/webhooks/qris", data=raw, headers=genuine, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other_sender.status_code == 200
    with app.app_context():
        db.engine.dispose()


def test_refused_deliveries_count_as_webhook_errors_on_the_dashboard(app, send_webhook, pending_payment):
    from kasir.reports.dashboard import build_dashboard

    send_webhook(paid_body(pending_payment), secret="not-the-secret")
    send_webhook(paid_body(pending_payment))
    assert build_dashboard().today.webhook_errors == 1


def test_webhook_records_older_than_the_retention_are_purged(app, send_webhook, pending_payment):
    from datetime import timedelta

    from kasir.clock import utcnow
    from kasir.payments.models import WebhookRejection
    from kasir.webhooks import rejections, retention

    send_webhook(paid_body(pending_payment), event_id="evt-recent")
    send_webhook(paid_body(pending_payment), secret="not-the-secret")
    rejections.flush()
    old = utcnow() - timedelta(days=app.config["WEBHOOK_KEEP_DAYS"], hours=2)
    db.session.add(WebhookDelivery(provider="mock", event_id="evt-old", payload="{}", received_at=old, status="OK"))
    db.session.add(WebhookRejection(hour=old.replace(minute=0, second=0, microsecond=0), provider="mock",
                                    source="10.0.0.9", outcome="rejected", count=7, samples=[]))
    db.session.commit()
    assert retention.purge_old() == 2
    assert db.session.scalars(db.select(WebhookDelivery.event_id)).all() == ["evt-recent"]
    assert db.session.scalar(db.select(WebhookRejection.source)) == "127.0.0.1"


# -- replays under a new event id (issue 21, item 12) ----------------------------------------------------
def test_a_replay_with_a_new_event_id_and_timestamp_is_a_duplicate(send_webhook, pending_payment):
    body = paid_body(pending_payment)
    assert send_webhook(body, event_id="evt-first").json["result"] == "applied"
    replay = send_webhook(body, event_id="evt-captured-and-renamed", timestamp=int(time.time()) + 60)
    assert replay.status_code == 200 and replay.json == {"result": "duplicate"}
    assert db.session.scalar(db.select(db.func.count(WebhookDelivery.id))) == 1
    assert db.session.scalar(db.select(db.func.count(PaymentLog.id)).where(PaymentLog.to_status == states.PAID)) == 1


def test_a_replayed_failure_under_a_new_event_id_is_a_duplicate(send_webhook, pending_payment):
    failed = paid_body(pending_payment, status="FAILED")
    send_webhook(failed, event_id="evt-failed")
    assert send_webhook(failed, event_id="evt-failed-again").json == {"result": "duplicate"}
    assert status_of(pending_payment) == states.FAILED


def test_another_status_of_the_same_transaction_is_not_a_duplicate(send_webhook, pending_payment):
    send_webhook(paid_body(pending_payment, status="FAILED"), event_id="evt-failed")
    late = send_webhook(paid_body(pending_payment), event_id="evt-paid")
    assert late.json["result"] != "duplicate"
