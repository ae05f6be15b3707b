"""Outbound callbacks (DESIGN §7): an outbox row with the state change, delivered signed by a job with backoff."""
import json
from datetime import timedelta

import pytest
from werkzeug import Response

from kasir import claims
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.payments import callbacks
from kasir.payments.models import Callback
from support.payments import paid_body


@pytest.fixture
def app_config(app_config):
    """The receivers here are loopback pytest-httpserver endpoints: allowed, as a shop allows its LAN receiver."""
    return {**app_config, "CALLBACK_ALLOWED_NETWORKS": "localhost, 127.0.0.1"}


class Receiver:
    """A loopback endpoint that checks the signature and refuses the first `failures` deliveries."""

    def __init__(self, key, failures=0):
        self.key, self.failures, self.seen = key, failures, []

    def __call__(self, request):
        body = request.get_data()
        self.seen.append(request)
        if not callbacks.verify(self.key, body, request.headers.get("X-Callback-Signature", "")):
            return Response("bad signature", 401)
        if len(self.seen) <= self.failures:
            return Response("try later", 503)
        return Response("ok", 200)


def pay_via_api(api, send_webhook, app, callback_url):
    created = api.create("WEB-CB", 12000, callback_url=callback_url).json

    class Paid:
        provider_trx_id, order_id, amount = created["provider_trx_id"], created["order_id"], created["amount"]

    assert send_webhook(paid_body(Paid)).status_code == 200
    return created["payment_id"]


def outbox(app):
    with app.app_context():
        return db.session.scalars(db.select(Callback).order_by(Callback.id)).all()


def run_job(app):
    with app.app_context():
        return callbacks.deliver_due()


def let_backoff_pass(app):
    with app.app_context():
        db.session.execute(db.update(Callback).where(Callback.delivered_at.is_(None)).values(next_attempt_at=utcnow()))
        db.session.commit()


def test_a_paid_payment_queues_one_callback_and_sends_nothing_in_the_request(api, app, send_webhook, httpserver):
    receiver = Receiver(app.config["CALLBACK_SIGNING_KEY"])
    httpserver.expect_request("/cb").respond_with_handler(receiver)
    payment_id = pay_via_api(api, send_webhook, app, httpserver.url_for("/cb"))
    [queued] = outbox(app)
    assert queued.event == "payment.paid" and queued.payment_id == payment_id and queued.delivered_at is None
    assert receiver.seen == []


def test_callback_is_signed_and_carries_the_payment(api, app, send_webhook, httpserver):
    receiver = Receiver(app.config["CALLBACK_SIGNING_KEY"])
    httpserver.expect_request("/cb").respond_with_handler(receiver)
    payment_id = pay_via_api(api, send_webhook, app, httpserver.url_for("/cb"))
    assert run_job(app) == 1
    [request] = receiver.seen
    body = json.loads(request.get_data())
    assert body["event"] == "payment.paid" and body["payment"]["payment_id"] == payment_id
    assert body["payment"]["status"] == "PAID"
    assert request.headers["X-Callback-Id"] == str(outbox(app)[0].id) and request.headers["X-Timestamp"].isdigit()


def test_receiver_failing_twice_gets_it_on_the_third_attempt(api, app, send_webhook, httpserver):
    receiver = Receiver(app.config["CALLBACK_SIGNING_KEY"], failures=2)
    httpserver.expect_request("/cb").respond_with_handler(receiver)
    pay_via_api(api, send_webhook, app, httpserver.url_for("/cb"))
    assert run_job(app) == 0
    [callback] = outbox(app)
    assert callback.attempts == 1 and callback.last_error == "HTTP 503"
    assert timedelta(seconds=9) < callback.next_attempt_at - callback.last_attempt_at <= timedelta(seconds=10)
    assert run_job(app) == 0  # not due yet: nothing is sent before the backoff has passed
    let_backoff_pass(app)
    assert run_job(app) == 0
    assert outbox(app)[0].next_attempt_at - outbox(app)[0].last_attempt_at > timedelta(seconds=29)
    let_backoff_pass(app)
    assert run_job(app) == 1
    [callback] = outbox(app)
    assert callback.attempts == 3 and callback.delivered_at is not None and callback.last_status == 200
    assert len(receiver.seen) == 3


def test_a_wrong_signing_key_is_refused_by_the_receiver(api, app, send_webhook, httpserver):
    receiver = Receiver("someone-elses-key")
    httpserver.expect_request("/cb").respond_with_handler(receiver)
    pay_via_api(api, send_webhook, app, httpserver.url_for("/cb"))
    assert run_job(app) == 0 and outbox(app)[0].last_error == "HTTP 401"


def test_backoff_gives_up_about_24_hours_after_the_first_attempt():
    total = timedelta()
    attempts = 1
    while (delay := claims.backoff(callbacks.BACKOFF, attempts)) is not None:
        total += delay
        attempts += 1
    assert timedelta(hours=23) <= total <= timedelta(hours=24)
    assert attempts == len(callbacks.BACKOFF) + 1


def test_unreachable_receiver_is_recorded_and_retried(api, app, send_webhook):
    pay_via_api(api, send_webhook, app, "http://127.0.0.1:9/cb")  # the discard port: nothing listens
    assert run_job(app) == 0
    [callback] = outbox(app)
    assert callback.attempts == 1 and callback.last_error == "unreachable" and callback.next_attempt_at is not None


def test_payments_without_callback_url_queue_nothing(api, app, send_webhook):
    created = api.create("WEB-NOCB", 12000).json
    api.post(f"/payments/{created['payment_id']}/cancel")
    assert outbox(app) == []


def test_cancel_queues_a_cancelled_callback(api, app):
    created = api.create("WEB-C", 12000, callback_url="https://toko.example/cb").json
    api.post(f"/payments/{created['payment_id']}/cancel")
    assert [c.event for c in outbox(app)] == ["payment.cancelled"]
