"""Idempotency-Key (DESIGN §7): replay, reuse with another body, in progress, 24 h lifetime."""
from datetime import timedelta

from kasir.api import idempotency
from kasir.api.models import IdempotencyKey
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.payments import charges
from kasir.payments.models import MockLedgerEntry, Payment
from kasir.payments.providers.mock import MockProvider
from kasir.settings import set_setting


def keyed(key):
    return {"Idempotency-Key": key}


def count(app, model):
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_same_key_and_body_replays_the_stored_response(api, app):
    first = api.create("WEB-1", 5000, headers=keyed("k-1"))
    again = api.create("WEB-1", 5000, headers=keyed("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(app, Payment) == 1 and count(app, MockLedgerEntry) == 1


def test_json_spacing_and_key_order_do_not_make_another_request(api):
    api.post("/payments", data='{"order_id":"WEB-1","amount":5000}',
             headers={**keyed("k"), "Content-Type": "application/json"})
    again = api.post("/payments", data='{ "amount": 5000, "order_id": "WEB-1" }',
                     headers={**keyed("k"), "Content-Type": "application/json"})
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_same_key_with_another_body_is_422(api):
    api.create("WEB-1", 5000, headers=keyed("k-1"))
    response = api.create("WEB-1", 6000, headers=keyed("k-1"))
    assert response.status_code == 422 and response.json["error"]["code"] == "idempotency_key_reuse"


def test_a_keyed_payment_of_a_local_provider_is_claimed_charged_and_answered_in_one_commit(api, commits):
    api.create("WEB-0", 5000)  # the key's first use is stamped in a commit of its own
    commits.clear()
    assert api.create("WEB-1", 5000, headers=keyed("k-1")).status_code == 201
    assert len(commits) == 1


def test_a_keyed_payment_is_charged_once_even_when_the_settings_change_meanwhile(api, app, monkeypatch):
    charges = []
    create_qr = MockProvider.create_qr

    def charge_while_the_shop_is_renamed(provider, reference, amount, expires_at):
        charges.append(reference)
        set_setting("shop_name", "Toko Baru")
        return create_qr(provider, reference, amount, expires_at)

    monkeypatch.setattr(MockProvider, "create_qr", charge_while_the_shop_is_renamed)
    assert api.create("WEB-1", 5000, headers=keyed("k-1")).status_code == 201
    assert charges == ["WEB-1"] and count(app, Payment) == 1 and count(app, MockLedgerEntry) == 1


def test_a_refused_local_charge_keeps_the_failed_payment_and_its_answer(api, app, monkeypatch):
    from kasir.payments.providers.base import ProviderError
    from kasir.payments.providers.mock import MockProvider

    def refuse(*_args):
        raise ProviderError("QRIS statis toko belum diatur.", code="provider_not_configured")

    monkeypatch.setattr(MockProvider, "create_qr", refuse)
    first = api.create("WEB-1", 5000, headers=keyed("k-1"))
    again = api.create("WEB-1", 5000, headers=keyed("k-1"))
    assert first.status_code == again.status_code == 502 and again.headers["Idempotent-Replayed"] == "true"
    with app.app_context():
        assert db.session.scalar(db.select(Payment.status).where(Payment.order_id == "WEB-1")) == "FAILED"


def test_a_refusal_is_replayed_too(api):
    api.create("WEB-1", 5000)
    first = api.create("WEB-1", 6000, headers=keyed("k-2"))
    again = api.create("WEB-1", 6000, headers=keyed("k-2"))
    assert first.status_code == again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"


def test_keys_are_scoped_per_api_key(api, app):
    from kasir.api.keys import create_key

    with app.app_context():
        other = create_key("Tablet")[1]
    api.create("WEB-1", 5000, headers=keyed("shared"))
    response = api.create("WEB-2", 5000, headers=keyed("shared"), token=other)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_a_key_still_being_processed_is_409(api, app):
    with app.app_context():
        key_id = db.session.scalar(db.select(db.text("id")).select_from(db.text("api_keys")))
        request_hash = idempotency.fingerprint("POST", "/payments", {"order_id": "WEB-1", "amount": 5000})
        idempotency.claim(key_id, "busy", request_hash, abandoned_before=charges.abandoned_before())
    response = api.create("WEB-1", 5000, headers=keyed("busy"))
    assert response.status_code == 409 and response.json["error"]["code"] == "idempotency_in_progress"
    assert response.headers["Retry-After"] == "1"


def test_a_claim_whose_process_died_is_taken_over_by_the_retry(api, app):
    with app.app_context():
        key_id = db.session.scalar(db.select(db.text("id")).select_from(db.text("api_keys")))
        request_hash = idempotency.fingerprint("POST", "/payments", {"order_id": "WEB-1", "amount": 5000})
        idempotency.claim(key_id, "died", request_hash, abandoned_before=charges.abandoned_before())
        # No live request runs this long: the one that claimed the key was killed.
        db.session.execute(db.update(IdempotencyKey).values(created_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    response = api.create("WEB-1", 5000, headers=keyed("died"))
    assert response.status_code == 201 and response.json["status"] == "PENDING"
    replay = api.create("WEB-1", 5000, headers=keyed("died"))
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == response.json


def test_an_order_whose_charge_was_never_answered_is_charged_on_retry_once(api, app):
    with app.app_context():
        key_id = db.session.scalar(db.select(db.text("id")).select_from(db.text("api_keys")))
        db.session.add(Payment(order_id="WEB-9", amount=5000, status="CREATED", provider="mock", api_key_id=key_id,
                               expires_at=utcnow() + timedelta(minutes=15)))
        db.session.commit()
    assert api.create("WEB-9", 5000).json["error"]["code"] == "order_in_progress"  # it may still be running
    with app.app_context():
        db.session.execute(db.update(Payment).values(updated_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    response = api.create("WEB-9", 5000)
    assert response.status_code == 201 and response.json["status"] == "PENDING"
    assert api.create("WEB-9", 5000).status_code == 200  # the open payment again, no second charge
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(MockLedgerEntry)
                                 .where(MockLedgerEntry.reference == "WEB-9")) == 1


def test_overlong_key_is_422(api):
    assert api.create(headers=keyed("k" * 256)).status_code == 422


def test_a_key_older_than_24_hours_is_free_again(api, app):
    api.create("WEB-1", 5000, headers=keyed("old"))
    with app.app_context():
        db.session.execute(db.update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
        db.session.commit()
    response = api.create("WEB-2", 5000, headers=keyed("old"))
    assert response.status_code == 201 and response.json["order_id"] == "WEB-2"


def test_purge_forgets_keys_after_24_hours(api, app):
    api.create("WEB-1", 5000, headers=keyed("a"))
    api.create("WEB-2", 5000, headers=keyed("b"))
    with app.app_context():
        db.session.execute(db.update(IdempotencyKey).where(IdempotencyKey.key == "a")
                           .values(created_at=utcnow() - timedelta(hours=24, seconds=1)))
        db.session.commit()
        assert idempotency.purge_expired() == 1
        assert db.session.scalars(db.select(IdempotencyKey.key)).all() == ["b"]


def test_an_unexpected_failure_frees_the_key_for_a_retry(api, app, monkeypatch):
    def crash(**_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(charges, "open_api_payment", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production instead of raising into the test
    failed = api.create("WEB-1", 5000, headers=keyed("retry-me"))
    assert failed.status_code == 500 and failed.json["error"]["code"] == "internal_error"
    monkeypatch.undo()
    assert api.create("WEB-1", 5000, headers=keyed("retry-me")).status_code == 201
