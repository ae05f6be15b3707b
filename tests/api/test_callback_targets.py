"""Callbacks reach public addresses only, unless CALLBACK_ALLOWED_NETWORKS allows more (issue 21, item 6)."""
import socket

import pytest

from kasir.clock import utcnow
from kasir.extensions import db
from kasir.payments import callbacks
from kasir.payments.models import Callback

INTERNAL_URLS = ["http://127.0.0.1:9000/pos", "http://[::1]/cb", "http://169.254.169.254/latest/meta-data/",
                 "http://10.0.0.5/cb", "http://192.168.1.20:8080/cb", "http://localhost:9000/admin",
                 "http://2130706433/cb", "http://127.1/cb", "http://[::ffff:127.0.0.1]/cb", "http://224.0.0.1/cb",
                 "http://0.0.0.0/cb", "http://100.64.0.1/cb", "https://[fe80::1]/cb", "http://api.localhost/cb"]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_an_internal_callback_url_is_refused_with_a_422(api, url):
    response = api.create("WEB-SSRF", 5000, callback_url=url)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_error" and "internal address" in error["details"]["callback_url"]


def test_a_public_callback_url_is_accepted(api):
    assert api.create("WEB-PUBLIC", 5000, callback_url="https://toko.example/cb").status_code == 201
    assert api.create("WEB-PUBLIC-2", 5000, callback_url="http://8.8.8.8/cb").status_code == 201


@pytest.fixture
def lan_app_config(app_config):
    return {**app_config, "CALLBACK_ALLOWED_NETWORKS": "10.0.0.0/24, kasir-app.lan"}


def test_allowed_networks_let_the_shops_lan_receiver_through_and_nothing_else(lan_app_config):
    from kasir import create_app
    from kasir.api.keys import create_key

    app = create_app(lan_app_config)
    with app.app_context():
        token = create_key("Toko")[1]
    client = app.test_client()

    def create(order_id, url):
        return client.post("/payments", json={"order_id": order_id, "amount": 5000, "callback_url": url},
                           headers={"Authorization": f"Bearer {token}"}).status_code

    assert create("WEB-LAN-1", "http://10.0.0.5:8080/cb") == 201
    assert create("WEB-LAN-2", "http://KASIR-APP.lan/cb") == 201
    assert create("WEB-LAN-3", "http://10.0.1.5/cb") == 422
    assert create("WEB-LAN-4", "http://127.0.0.1/cb") == 422
    with app.app_context():
        db.engine.dispose()


def queue_callback(payment_id: str, url: str) -> int:
    """An outbox row as if the URL had passed validation (a name that resolves inside only does at send time)."""
    callback = Callback(payment_id=payment_id, url=url, event="payment.paid", body="{}", next_attempt_at=utcnow())
    db.session.add(callback)
    db.session.commit()
    return callback.id


def test_a_name_that_resolves_to_an_internal_address_is_refused_at_send_time(app, api, httpserver):
    httpserver.expect_request("/cb").respond_with_data("ok")
    payment_id = api.create("WEB-DNS", 5000).json["payment_id"]
    with app.app_context():
        callback_id = queue_callback(payment_id, f"http://localhost:{httpserver.port}/cb")
        assert callbacks.deliver_due() == 0
        callback = db.session.get(Callback, callback_id)
        assert callback.last_error == "refused_target" and callback.attempts == 1
    assert httpserver.log == []


def test_the_connection_goes_to_the_address_that_was_checked(app_config, httpserver, monkeypatch):
    """DNS answers a checked (allowed) address first and another one afterwards: the call still goes to
    the first, since the host is resolved once and the connection made to that address."""
    from kasir import create_app

    app = create_app({**app_config, "CALLBACK_ALLOWED_NETWORKS": "127.0.0.1"})
    httpserver.expect_request("/cb").respond_with_data("ok")
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding_dns(host, port, *args, **kwargs):
        if host == "receiver.example":
            return real_getaddrinfo(next(answers, "169.254.169.254"), port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    with app.app_context():
        from kasir.payments.models import Payment

        payment = Payment(order_id="WEB-REBIND", amount=5000, provider="mock", status="PAID")
        db.session.add(payment)
        db.session.commit()
        callback_id = queue_callback(payment.id, f"http://receiver.example:{httpserver.port}/cb")
        assert callbacks.deliver_due() == 1
        assert db.session.get(Callback, callback_id).delivered_at is not None
        db.engine.dispose()
    [(request, _response)] = httpserver.log
    assert request.headers["Host"] == f"receiver.example:{httpserver.port}"


@pytest.mark.browser
def test_the_admin_page_names_a_failed_delivery_in_words_without_addresses(app, api, admin_page, served_app,
                                                                           screenshots):
    payment_id = api.create("WEB-ADMIN", 5000, callback_url="https://toko.example/cb").json["payment_id"]
    with app.app_context():
        for error in ("refused_target", "timeout", "unreachable", "HTTP 503"):
            db.session.add(Callback(payment_id=payment_id, url="https://toko.example/cb", event="payment.paid",
                                    body="{}", attempts=1, last_error=error, next_attempt_at=None))
        db.session.add(Callback(payment_id=payment_id, url="https://toko.example/cb", event="payment.paid", body="{}",
                                attempts=1, last_error="ConnectionError: [Errno 111] 10.0.0.7:8080",
                                next_attempt_at=utcnow()))
        db.session.commit()
    admin_page.goto(f"{served_app}/admin/payments/{payment_id}")
    outcomes = admin_page.locator("table").last.inner_text()
    for words in ("Gagal: Alamat callback tidak diizinkan (jaringan lokal/internal)",
                  "Gagal: Penerima tidak menjawab tepat waktu", "Gagal: Penerima tidak dapat dihubungi",
                  "Gagal: Penerima menolak (kode 503)", "Gagal terkirim"):
        assert words in outcomes
    assert "Errno" not in outcomes and "10.0.0.7" not in outcomes and "ConnectionError" not in outcomes
    admin_page.screenshot(path=screenshots / "admin-payment-callback-errors.png", full_page=True)
