"""POST /payments with a method (DESIGN §7): QRIS by default, a bank VA, or a payment link."""
import pytest

from kasir.extensions import db
from kasir.payments.models import Payment
from support.gateways import XENDIT_KEY, XENDIT_TOKEN
from support.payments import use_gateway


def error_code(response):
    return response.json["error"]["code"]


def test_without_a_method_the_payment_is_qris(api):
    body = api.create().json
    assert body["method"] == "qris" and body["qr_string"].startswith("000201")


def test_va_answers_the_bank_and_number_instead_of_a_qr(api):
    response = api.create(method="va", bank="bni")
    assert response.status_code == 201
    body = response.json
    assert body["method"] == "va" and "qr_string" not in body and body["status"] == "PENDING"
    assert body["va"]["bank"] == "bni" and body["va"]["number"].isdigit() and body["va"]["biller_code"] is None


def test_mandiri_va_answers_its_biller_code(api):
    va = api.create(method="va", bank="mandiri").json["va"]
    assert va["bank"] == "mandiri" and va["number"] and va["biller_code"]


def test_link_answers_a_payment_url(api):
    body = api.create(method="link").json
    assert body["method"] == "link" and body["payment_url"].startswith("http") and "qr_string" not in body


def test_va_is_stored_with_its_method_and_instructions(api, app):
    body = api.create(method="va", bank="bca").json
    with app.app_context():
        payment = db.session.get(Payment, body["payment_id"])
        assert payment.method == "va" and payment.instructions["va"]["number"] == body["va"]["number"]


def test_reading_a_va_payment_shows_its_va(api):
    created = api.create(method="va", bank="bri").json
    read = api.get(f"/payments/{created['payment_id']}").json
    assert read["method"] == "va" and read["va"] == created["va"]


@pytest.mark.parametrize("fields, bad", [
    ({"method": "cash"}, "method"), ({"method": "va"}, "bank"), ({"method": "va", "bank": "xyz"}, "bank"),
    ({"method": "link", "bank": "bca"}, "bank"),
])
def test_a_bad_method_or_bank_is_422_and_nothing_is_made(api, app, fields, bad):
    response = api.create(**fields)
    assert response.status_code == 422 and error_code(response) == "validation_error"
    assert bad in response.json["error"]["details"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_a_method_the_provider_does_not_offer_is_422_method_not_supported(api, app):
    use_gateway(app, provider="xendit", xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN)
    response = api.create(method="va", bank="bca")
    assert response.status_code == 422 and error_code(response) == "method_not_supported"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_method_not_supported_is_replayed_under_its_idempotency_key(api, app):
    use_gateway(app, provider="xendit", xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN)
    first = api.create(method="link", headers={"Idempotency-Key": "k-link-1"})
    again = api.create(method="link", headers={"Idempotency-Key": "k-link-1"})
    assert first.status_code == again.status_code == 422
    assert error_code(again) == "method_not_supported" and again.headers.get("Idempotent-Replayed") == "true"
