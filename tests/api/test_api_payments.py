"""/payments (DESIGN §7): auth, validation, order_id rules, reading, listing and cancelling."""
import logging
from types import SimpleNamespace

import pytest

from kasir.extensions import db
from kasir.payments import states
from kasir.payments.models import MockLedgerEntry, Payment, PaymentLog
from kasir.payments.providers.base import ProviderUnavailable
from support.databases import query_database
from support.payments import paid_body


def error_code(response):
    return response.json["error"]["code"]


def test_missing_token_is_401_with_the_error_body(client):
    response = client.post("/payments", json={"order_id": "A1", "amount": 1000})
    assert response.status_code == 401
    assert response.json == {"error": {"code": "unauthorized", "message": response.json["error"]["message"],
                                       "details": {}}}


def test_unknown_token_is_401(api):
    assert api.create(token="kasir_not-a-real-token").status_code == 401


def test_revoked_token_is_401(api, app, runner):
    runner.invoke(args=["api-key", "revoke", api.token[:14]])
    assert api.create().status_code == 401


def test_create_returns_a_pending_payment_with_its_qr(api):
    response = api.create("WEB-1001", 25000, callback_url="https://toko.example/cb", metadata={"cart": 7})
    assert response.status_code == 201
    body = response.json
    assert body["status"] == "PENDING" and body["order_id"] == "WEB-1001" and body["amount"] == 25000
    assert body["currency"] == "IDR" and body["provider"] == "mock" and body["provider_trx_id"]
    assert body["qr_string"].startswith("000201") and body["metadata"] == {"cart": 7}
    assert body["expires_at"].endswith("+07:00") and body["created_at"].endswith("+07:00")


def test_numeric_string_amount_is_accepted(api):
    assert api.create(amount="15000").json["amount"] == 15000


@pytest.mark.parametrize("field, value", [
    ("order_id", ""), ("order_id", "x" * 51), ("order_id", "POS 1"), ("order_id", 12),
    ("amount", 0), ("amount", -5), ("amount", 10_000_001), ("amount", 1.5), ("amount", "15.000"), ("amount", True),
    ("currency", "USD"), ("callback_url", "ftp://x.example"), ("callback_url", "not a url"),
    ("metadata", [1, 2]), ("metadata", {"blob": "x" * 5000}), ("surprise", 1),
])
def test_invalid_fields_are_422_naming_the_field(api, field, value):
    body = {"order_id": "WEB-1", "amount": 1000, field: value}
    response = api.post("/payments", body)
    assert response.status_code == 422 and error_code(response) == "validation_error"
    assert field in response.json["error"]["details"]


@pytest.mark.parametrize("order_id", ["POS-1-261204-0001-1", "pos-1-261204-0001-1", "Pos-anything"])
def test_an_order_id_with_the_tills_prefix_is_422(api, order_id):
    response = api.create(order_id)
    assert response.status_code == 422 and "POS-" in response.json["error"]["details"]["order_id"]


@pytest.mark.parametrize("order_id", [".", "..", "...."])
def test_a_dot_only_order_id_is_422(api, order_id):
    response = api.create(order_id)
    assert response.status_code == 422 and "dots" in response.json["error"]["details"]["order_id"]


def test_an_order_id_with_dots_among_other_characters_is_accepted(api):
    assert api.create("WEB.2026.12.04").status_code == 201


def test_malformed_json_is_400(api):
    response = api.post("/payments", data=b'{"order_id": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "malformed_json"


def test_non_json_content_type_is_415(api):
    response = api.post("/payments", data="order_id=A&amount=1", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415 and error_code(response) == "unsupported_media_type"


def test_oversized_body_is_413(api):
    response = api.post("/payments", data=b"{" + b" " * 20000 + b"}", headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error_code(response) == "payload_too_large"


def test_same_order_and_amount_returns_the_pending_payment_without_a_new_charge(api, app):
    first = api.create("WEB-7", 5000)
    again = api.create("WEB-7", 5000)
    assert again.status_code == 200 and again.json["payment_id"] == first.json["payment_id"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MockLedgerEntry)) == 1


def test_same_order_with_another_amount_is_409_order_conflict(api):
    api.create("WEB-7", 5000)
    response = api.create("WEB-7", 6000)
    assert response.status_code == 409 and error_code(response) == "order_conflict"


def test_same_order_after_it_closed_is_409_order_closed(api):
    payment_id = api.create("WEB-7", 5000).json["payment_id"]
    api.post(f"/payments/{payment_id}/cancel")
    response = api.create("WEB-7", 5000)
    assert response.status_code == 409 and error_code(response) == "order_closed"


def test_provider_outage_is_503_and_the_payment_failed(api, app, monkeypatch):
    from kasir.payments.providers.mock import MockProvider

    def unreachable(*_args):
        raise ProviderUnavailable()

    monkeypatch.setattr(MockProvider, "create_qr", unreachable)
    response = api.create("WEB-9", 5000)
    assert response.status_code == 503 and error_code(response) == "provider_unavailable"
    with app.app_context():
        assert db.session.scalar(db.select(Payment.status).where(Payment.order_id == "WEB-9")) == states.FAILED


def test_a_provider_that_charges_locally_is_asked_in_the_payments_one_commit(api, commits):
    api.create("WEB-0", 5000)  # the key's first use is stamped in a commit of its own
    commits.clear()
    response = api.create("WEB-1", 5000)
    assert response.status_code == 201 and response.json["status"] == "PENDING"
    assert len(commits) == 1


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "k-1"}], ids=["unkeyed", "keyed"])
def test_the_create_answer_is_the_payment_as_stored(api, headers):
    created = api.create("WEB-1", 5000, headers=headers)
    assert created.json == api.get(f"/payments/{created.json['payment_id']}").json


def test_a_locally_charged_payment_logs_its_creation_then_its_qr(api, app):
    payment_id = api.create("WEB-1", 5000).json["payment_id"]
    with app.app_context():
        logs = db.session.execute(db.select(PaymentLog.event, PaymentLog.from_status, PaymentLog.to_status)
                                  .where(PaymentLog.payment_id == payment_id).order_by(PaymentLog.id)).all()
    assert logs == [("created", None, states.CREATED), ("status:pending", states.CREATED, states.PENDING)]


def test_a_gateway_on_the_network_is_asked_once_the_created_payment_is_committed(api, app, monkeypatch):
    from kasir.database import in_write_block
    from kasir.payments.providers.mock import MockProvider

    seen = {}
    create_qr = MockProvider.create_qr

    def online_create_qr(provider, reference, amount, expires_at):
        seen["in_write_block"] = in_write_block()
        seen["stored"] = query_database(app.config["SQLALCHEMY_DATABASE_URI"],
                                        "SELECT status FROM payments WHERE order_id = :order_id", order_id=reference)
        return create_qr(provider, reference, amount, expires_at)

    monkeypatch.setattr(MockProvider, "charges_online", True)
    monkeypatch.setattr(MockProvider, "create_qr", online_create_qr)
    assert api.create("WEB-1", 5000).json["status"] == "PENDING"
    assert seen == {"in_write_block": False, "stored": [(states.CREATED,)]}


def test_get_returns_the_payment(api):
    created = api.create().json
    response = api.get(f"/payments/{created['payment_id']}")
    assert response.status_code == 200
    assert response.json["payment_id"] == created["payment_id"] and response.json["late"] is False
    assert response.json["paid_at"] is None and "provider_ref_no" in response.json


def test_get_after_the_payment_was_paid_shows_it_paid(api, send_webhook):
    created = api.create().json
    assert api.get(f"/payments/{created['payment_id']}").json["status"] == "PENDING"
    send_webhook(paid_body(SimpleNamespace(**created)))
    assert api.get(f"/payments/{created['payment_id']}").json["status"] == "PAID"


def test_get_with_a_revoked_key_is_401(api, runner):
    payment_id = api.create().json["payment_id"]
    runner.invoke(args=["api-key", "revoke", api.token[:14]])
    assert api.get(f"/payments/{payment_id}").status_code == 401


def test_get_stamps_a_key_due_for_its_last_used_time(api, app):
    from kasir.api.models import ApiKey

    payment_id = api.create().json["payment_id"]
    with app.app_context():
        db.session.execute(db.update(ApiKey).values(last_used_at=None))
        db.session.commit()
    assert api.get(f"/payments/{payment_id}").status_code == 200
    with app.app_context():
        assert db.session.scalar(db.select(ApiKey.last_used_at)) is not None


def test_a_cross_origin_get_gets_cors_headers(app_config):
    from kasir import create_app
    from kasir.api.keys import create_key

    app = create_app({**app_config, "CORS_ORIGINS": "https://toko.example"})
    with app.app_context():
        token = create_key("Toko Online")[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    payment_id = client.post("/payments", json={"order_id": "WEB-1", "amount": 1000},
                             headers=headers).json["payment_id"]
    answer = client.get(f"/payments/{payment_id}", headers={**headers, "Origin": "https://toko.example"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "https://toko.example"
    with app.app_context():
        db.engine.dispose()


def test_a_get_is_not_an_info_log_line(api, caplog):
    payment_id = api.create().json["payment_id"]
    with caplog.at_level(logging.INFO, logger="kasir.request"):
        caplog.clear()
        api.get(f"/payments/{payment_id}")
    assert not [record for record in caplog.records if record.name == "kasir.request"]


def test_get_unknown_payment_is_404(api):
    response = api.get("/payments/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_another_keys_payment_is_404(api, app):
    from kasir.api.keys import create_key

    payment_id = api.create().json["payment_id"]
    with app.app_context():
        other = create_key("Tablet")[1]
    assert api.get(f"/payments/{payment_id}", token=other).status_code == 404


def test_list_is_newest_first_with_cursor_paging(api):
    ids = [api.create(f"WEB-{n}", 1000 + n).json["payment_id"] for n in range(5)]
    first = api.get("/payments?limit=2").json
    assert [item["payment_id"] for item in first["items"]] == ids[:-3:-1]
    second = api.get(f"/payments?limit=2&cursor={first['next_cursor']}").json
    third = api.get(f"/payments?limit=2&cursor={second['next_cursor']}").json
    seen = [item["payment_id"] for page in (first, second, third) for item in page["items"]]
    assert seen == ids[::-1] and third["next_cursor"] is None


def test_list_filters_by_order_id_and_status(api):
    api.create("WEB-1", 1000)
    cancelled = api.create("WEB-2", 1000).json["payment_id"]
    api.post(f"/payments/{cancelled}/cancel")
    assert [i["order_id"] for i in api.get("/payments?order_id=WEB-1").json["items"]] == ["WEB-1"]
    assert [i["order_id"] for i in api.get("/payments?status=CANCELLED").json["items"]] == ["WEB-2"]


@pytest.mark.parametrize("query", ["status=DONE", "status=", "limit=", "limit=0", "limit=101", "limit=x", "cursor=%%%",
                                   "order_id=" + "W" * 51, "order_id=WEB%201", "statuss=PAID", "=x"])
def test_bad_list_parameters_are_422(api, query):
    assert api.get(f"/payments?{query}").status_code == 422


def test_a_deeply_nested_cursor_is_422_not_500(api):
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 100_000).decode().rstrip("=")
    response = api.get(f"/payments?cursor={nested}")
    assert response.status_code == 422 and "cursor" in response.json["error"]["details"]


def test_a_cursor_longer_than_any_next_cursor_is_422(api):
    assert api.get(f"/payments?cursor={'A' * 201}").status_code == 422


def test_cancel_a_pending_payment(api):
    payment_id = api.create().json["payment_id"]
    response = api.post(f"/payments/{payment_id}/cancel")
    assert response.status_code == 200 and response.json["status"] == "CANCELLED"
    assert api.post(f"/payments/{payment_id}/cancel").status_code == 200  # cancelling again changes nothing


def test_cancel_a_payment_the_provider_reports_paid_is_409_already_paid_and_now_paid(api, app):
    created = api.create().json
    with app.app_context():
        entry = db.session.get(MockLedgerEntry, created["provider_trx_id"])
        from kasir.payments.providers.mock import MockProvider
        MockProvider().settle(entry, "SUCCESS")
    response = api.post(f"/payments/{created['payment_id']}/cancel")
    assert response.status_code == 409 and error_code(response) == "already_paid"
    assert api.get(f"/payments/{created['payment_id']}").json["status"] == "PAID"


def test_unknown_route_and_method_answer_json(api):
    assert error_code(api.get("/payments/x/y/z")) == "not_found"
    response = api.post("/payments/abc")
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"


def test_method_not_allowed_names_the_allowed_methods(api):
    response = api.post("/payments/abc")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}


def test_api_answers_carry_a_request_id(api):
    response = api.get("/payments", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    assert len(api.get("/payments").headers["X-Request-Id"]) == 32


def test_create_is_rate_limited_per_ip(app, app_config, api_token):
    from kasir import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "3 per minute"})
    client = limited.test_client()
    headers = {"Authorization": f"Bearer {api_token}"}
    codes = [client.post("/payments", json={"order_id": f"RL-{n}", "amount": 1000}, headers=headers).status_code
             for n in range(4)]
    assert codes == [201, 201, 201, 429]
    response = client.post("/payments", json={}, headers=headers)
    assert response.json["error"]["code"] == "rate_limited"
    assert client.get("/payments", headers=headers).status_code == 200  # only creating is limited
    with limited.app_context():
        db.engine.dispose()
