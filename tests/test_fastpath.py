"""The steady polls and the webhooks answered in front of Flask (kasir.fastpath): the same answers as the
Flask views, and everything that is not the steady case left to those views."""
import logging
import re
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest

from kasir import clock
from kasir.clock import utcnow
from kasir.database import RawRead
from kasir.extensions import db
from kasir.models import Register, User
from kasir.payments.models import Payment
from support.config import CASHIER
from support.payments import paid_body

# Headers that differ between any two answers, whoever gives them.
PER_REQUEST_HEADERS = {"X-Request-Id"}


@contextmanager
def flask_must_not_answer(app):
    middleware = app.wsgi_app

    def refuse(environ, start_response):
        raise AssertionError(f"the Flask view answered {environ['PATH_INFO']}")

    middleware.wsgi_app = refuse
    try:
        yield
    finally:
        middleware.wsgi_app = _flask(app)


def _flask(app):
    """The Flask app's own WSGI callable, behind the middleware."""
    return type(app).wsgi_app.__get__(app)


@contextmanager
def flask_only(app):
    middleware = app.wsgi_app
    app.wsgi_app = _flask(app)
    try:
        yield
    finally:
        app.wsgi_app = middleware


def fast_and_flask(app, get):
    """The same request answered by the fast path and by the Flask view."""
    with flask_must_not_answer(app):
        fast = get()
    with flask_only(app):
        flask = get()
    return fast, flask


def assert_same_answer(fast, flask):
    assert fast.status == flask.status
    assert fast.get_data() == flask.get_data()
    headers = {name for name, _ in flask.headers} | {name for name, _ in fast.headers}
    for name in headers - PER_REQUEST_HEADERS:
        assert fast.headers.getlist(name) == flask.headers.getlist(name), name
    assert fast.headers["X-Request-Id"]


def open_qr(auth, htmx) -> str:
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    modal = htmx.post("/pos/checkout/qris").get_data(as_text=True)
    return re.search(r'data-payment="([0-9a-f-]+)"', modal).group(1)


def display_version(client) -> str:
    page = client.get("/display/1").get_data(as_text=True)
    return re.search(r'data-version="([^"]+)"', page).group(1)


def test_a_pending_qr_status_poll_gets_the_views_answer_without_flask(app, auth, htmx):
    payment_id = open_qr(auth, htmx)
    fast, flask = fast_and_flask(app, lambda: htmx.get(f"/pos/payments/{payment_id}/status"))
    assert fast.status_code == 200 and "Menunggu pembayaran" in fast.get_data(as_text=True)
    assert_same_answer(fast, flask)


def test_each_pending_qr_status_poll_shows_the_countdown_of_its_moment(app, auth, htmx, monkeypatch):
    payment_id = open_qr(auth, htmx)
    first = htmx.get(f"/pos/payments/{payment_id}/status").get_data(as_text=True)
    later = utcnow() + timedelta(minutes=5)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    fast, flask = fast_and_flask(app, lambda: htmx.get(f"/pos/payments/{payment_id}/status"))
    assert "Sisa waktu <span data-countdown-text>14:" in first
    assert "Sisa waktu <span data-countdown-text>09:" in fast.get_data(as_text=True)
    assert_same_answer(fast, flask)


def test_an_unchanged_display_gets_the_views_204_without_flask(app, client):
    version = display_version(client)
    fast, flask = fast_and_flask(app, lambda: client.get(f"/display/1/state?v={version}"))
    assert fast.status_code == 204
    assert_same_answer(fast, flask)


def test_a_display_on_another_device_with_its_token_gets_the_204_without_flask(app, client):
    with app.app_context():
        db.session.scalar(db.select(Register).where(Register.code == "1")).display_token = "rahasia"
        db.session.commit()
    version = display_version(client)
    with flask_must_not_answer(app):
        answer = client.get(f"/display/1/state?v={version}&token=rahasia", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert answer.status_code == 204


def test_an_api_payment_read_gets_the_views_json_without_flask(app, api):
    payment_id = api.create().get_json()["payment_id"]
    fast, flask = fast_and_flask(app, lambda: api.get(f"/payments/{payment_id}"))
    assert fast.status_code == 200 and fast.get_json()["payment_id"] == payment_id
    assert_same_answer(fast, flask)


def test_an_api_payment_read_after_it_was_paid_gets_the_paid_payment(app, api, send_webhook):
    created = api.create().get_json()
    assert api.get(f"/payments/{created['payment_id']}").get_json()["status"] == "PENDING"
    send_webhook(paid_body(SimpleNamespace(**created)))
    fast, flask = fast_and_flask(app, lambda: api.get(f"/payments/{created['payment_id']}"))
    assert fast.get_json()["status"] == "PAID"
    assert_same_answer(fast, flask)


def test_a_pending_poll_is_not_an_info_log_line(app, auth, htmx, caplog):
    payment_id = open_qr(auth, htmx)
    with caplog.at_level(logging.INFO, logger="kasir.request"):
        caplog.clear()
        htmx.get(f"/pos/payments/{payment_id}/status")
    assert not [record for record in caplog.records if record.name == "kasir.request"]


def test_a_paid_qr_status_poll_goes_to_the_view_which_stops_polling(app, auth, htmx, send_webhook):
    payment_id = open_qr(auth, htmx)
    with app.app_context():
        assert send_webhook(paid_body(db.session.get(Payment, payment_id))).status_code == 200
    assert htmx.get(f"/pos/payments/{payment_id}/status").status_code == 286


def test_a_status_poll_after_logout_goes_to_the_view_which_asks_to_log_in(app, auth, htmx):
    payment_id = open_qr(auth, htmx)
    auth.logout()
    answer = htmx.get(f"/pos/payments/{payment_id}/status")
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_status_poll_from_a_deactivated_cashier_goes_to_the_view(app, auth, htmx):
    payment_id = open_qr(auth, htmx)
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == CASHIER[0])).active = False
        db.session.commit()
    answer = htmx.get(f"/pos/payments/{payment_id}/status")
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_status_poll_from_another_register_goes_to_the_view_which_finds_nothing(app, client, auth, htmx):
    payment_id = open_qr(auth, htmx)
    with app.app_context():
        db.session.add(Register(code="2", name="Kasir 2"))
        db.session.commit()
    client.set_cookie("kasir_register", "2")
    assert htmx.get(f"/pos/payments/{payment_id}/status").status_code == 404


def test_a_forged_session_cookie_gets_no_status(app, client, auth, htmx):
    payment_id = open_qr(auth, htmx)
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "eyJ1c2VyX2lkIjoxfQ.forged.signature")
    answer = htmx.get(f"/pos/payments/{payment_id}/status")
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_changed_display_goes_to_the_view_which_sends_the_new_state(client):
    answer = client.get("/display/1/state?v=stale")
    assert answer.status_code == 200 and 'id="display-state"' in answer.get_data(as_text=True)


def test_a_display_from_another_device_without_the_token_is_refused(app, client):
    version = display_version(client)
    answer = client.get(f"/display/1/state?v={version}", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert answer.status_code == 403


def test_an_api_read_with_a_revoked_key_is_refused(app, api, runner):
    payment_id = api.create().get_json()["payment_id"]
    runner.invoke(args=["api-key", "revoke", api.token[:14]])
    assert api.get(f"/payments/{payment_id}").status_code == 401


def test_an_api_read_of_another_keys_payment_is_not_found(app, api):
    from kasir.api.keys import create_key

    payment_id = api.create().get_json()["payment_id"]
    with app.app_context():
        other = create_key("Aplikasi Lain")[1]
    assert api.get(f"/payments/{payment_id}", token=other).status_code == 404


def test_a_cross_origin_api_read_goes_to_the_view_which_adds_cors_headers(app_config, tmp_path):
    from kasir import create_app
    from kasir.api.keys import create_key

    app = create_app({**app_config, "CORS_ORIGINS": "https://toko.example"})
    with app.app_context():
        token = create_key("Toko Online")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    payment_id = client.post("/payments", json={"order_id": "WEB-1", "amount": 1000},
                             headers=headers).get_json()["payment_id"]
    answer = client.get(f"/payments/{payment_id}", headers={**headers, "Origin": "https://toko.example"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "https://toko.example"


def test_a_key_due_for_its_last_used_stamp_is_read_by_the_view_which_stamps_it(app, api):
    from kasir.api.models import ApiKey

    payment_id = api.create().get_json()["payment_id"]
    with app.app_context():
        db.session.execute(db.update(ApiKey).values(last_used_at=None))
        db.session.commit()
    assert api.get(f"/payments/{payment_id}").status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(ApiKey.last_used_at)) is not None


def test_a_failing_fast_path_leaves_the_answer_to_the_view(app, client, monkeypatch, caplog):
    version = display_version(client)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(RawRead, "first", broken)
    assert client.get(f"/display/1/state?v={version}").status_code == 204
    assert "fast path for /display/1/state failed" in caplog.text


def test_without_the_fast_path_flask_answers_every_request(app_config):
    from kasir import create_app

    app = create_app({**app_config, "FAST_PATH": False})
    assert app.wsgi_app == _flask(app)


def test_a_post_to_a_poll_path_goes_to_the_view(client):
    assert client.post("/display/1/state").status_code == 405


def new_payments(api, count: int = 2):
    """`count` new API payments, made before any comparison (Flask answers POST /payments): next() for each."""
    return iter([SimpleNamespace(**api.create(order_id=f"WEB-{number}").get_json()) for number in range(count)])


def test_a_paying_webhook_gets_the_views_answer_without_flask(app, api, send_webhook):
    payments = new_payments(api)
    fast, flask = fast_and_flask(app, lambda: send_webhook(paid_body(next(payments))))
    assert fast.status_code == 200 and fast.get_json() == {"result": "applied", "status": "PAID"}
    assert_same_answer(fast, flask)


def test_a_replayed_webhook_gets_the_views_duplicate_answer_without_flask(app, api, send_webhook):
    body = paid_body(next(new_payments(api, 1)))
    send_webhook(body, event_id="evt-1")
    fast, flask = fast_and_flask(app, lambda: send_webhook(body, event_id="evt-1"))
    assert fast.get_json() == {"result": "duplicate"}
    assert_same_answer(fast, flask)


def unknown_payment_body(payment) -> dict:
    """A paying body for a payment no one has (one per payment: the same one again would be a replay)."""
    return paid_body(payment, order_id=f"NOPE-{payment.order_id}", trx_id=f"NOPE-{payment.order_id}")


def test_a_webhook_that_cannot_be_applied_gets_the_views_answer_without_flask(app, api, send_webhook):
    payments = new_payments(api, 6)
    for send, status in [(lambda: send_webhook(paid_body(next(payments)), secret="not-the-secret"), 401),
                         (lambda: send_webhook({}, raw=b"not json"), 400),
                         (lambda: send_webhook(unknown_payment_body(next(payments))), 202),
                         (lambda: send_webhook(paid_body(next(payments), amount=1)), 422)]:
        fast, flask = fast_and_flask(app, send)
        assert fast.status_code == status
        assert_same_answer(fast, flask)


def test_gateway_webhooks_get_the_views_answers_without_flask(app, client):
    for path in ("/webhooks/midtrans", "/webhooks/xendit"):
        fast, flask = fast_and_flask(app, lambda: client.post(path, json={"order_id": "WEB-1"}))
        assert fast.status_code >= 400
        assert_same_answer(fast, flask)


def test_a_webhook_answered_without_flask_is_an_info_log_line(app, api, send_webhook, caplog):
    payment = next(new_payments(api, 1))
    with caplog.at_level(logging.INFO, logger="kasir.request"), flask_must_not_answer(app):
        caplog.clear()
        send_webhook(paid_body(payment))
    assert [record.getMessage() for record in caplog.records if record.name == "kasir.request"] == \
        ["POST /webhooks/qris 200"]


def test_a_webhook_that_fails_unexpectedly_gets_a_json_500_and_is_kept_for_the_job(app, api, send_webhook,
                                                                                 monkeypatch, caplog):
    from kasir.payments import service
    from kasir.payments.models import WEBHOOK_PENDING, WebhookDelivery

    payment = next(new_payments(api, 1))

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk gone")

    monkeypatch.setattr(service, "apply_status", broken)
    with flask_must_not_answer(app):
        answer = send_webhook(paid_body(payment), event_id="evt-broken")
    assert answer.status_code == 500
    assert answer.get_json() == {"error": {"code": "internal_error", "message": "Something went wrong on our side.",
                                           "details": {}}}
    assert "disk gone" not in answer.get_data(as_text=True) and "webhook /webhooks/qris failed" in caplog.text
    with app.app_context():
        kept = db.session.scalar(db.select(WebhookDelivery).where(WebhookDelivery.event_id == "evt-broken"))
        assert kept.status == WEBHOOK_PENDING


def test_a_webhook_over_the_size_limit_goes_to_the_view_which_refuses_it(app, send_webhook):
    app.config["MAX_CONTENT_LENGTH"] = 100
    answer = send_webhook({}, raw=b"x" * 101)
    assert answer.status_code == 413 and answer.get_json()["error"]["code"] == "payload_too_large"


def test_a_webhook_runs_in_the_app_context_already_pushed_as_a_flask_request_would(app, api, send_webhook):
    payment = next(new_payments(api, 1))
    with app.app_context(), flask_must_not_answer(app):
        shown = db.session.get(Payment, payment.payment_id)
        send_webhook(paid_body(payment))
        assert shown.status == "PAID"


@pytest.mark.parametrize("token", ["rähasia", "%FF%FE", "ü" * 64])
def test_a_non_ascii_display_token_is_refused_on_both_paths(app, client, token):
    with app.app_context():
        db.session.scalar(db.select(Register).where(Register.code == "1")).display_token = "rahasia"
        db.session.commit()
    version = display_version(client)
    fast, flask = fast_and_flask_or_view(app, lambda: client.get(f"/display/1/state?v={version}&token={token}",
                                                                  environ_base={"REMOTE_ADDR": "192.0.2.10"}))
    assert fast.status_code == flask.status_code == 403
    assert client.get(f"/display/1?token={token}", environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 403


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_display_on_this_pc_needs_no_token_on_both_paths(app, client, address):
    version = display_version(client)
    with flask_must_not_answer(app):
        assert client.get(f"/display/1/state?v={version}", environ_base={"REMOTE_ADDR": address}).status_code == 204
    assert client.get("/display/1", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["192.0.2.10", "::ffff:192.0.2.10", "10.0.0.1", "fe80::1", "not-an-address"])
def test_a_display_elsewhere_needs_its_token(client, address):
    assert client.get("/display/1", environ_base={"REMOTE_ADDR": address}).status_code == 403


def fast_and_flask_or_view(app, get):
    """The answer with the fast path in front (which may leave it to the view), and Flask's alone."""
    fast = get()
    with flask_only(app):
        flask = get()
    return fast, flask
