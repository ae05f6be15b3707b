"""The shop's static QRIS turned dynamic per sale, confirmed by the cashier with their PIN."""
import re

import pytest

from kasir import qris
from kasir.extensions import db
from kasir.models import AuditLog, Sale
from kasir.payments import charges, service, states, sync
from kasir.payments.models import Payment
from support.client import AuthActions
from support.gateways import STATIC_VECTOR
from support.payments import use_gateway


@pytest.fixture(autouse=True)
def static_active(app):
    use_gateway(app, provider="static", static_qris_payload=STATIC_VECTOR)
    with app.app_context():
        yield


def start_qris(auth, htmx):
    auth.login_cashier()
    for sku in ("SKU0001", "SKU0006"):
        htmx.post("/pos/cart/scan", data={"q": sku})
    html = htmx.post("/pos/checkout/qris").get_data(as_text=True)
    db.session.expire_all()
    return html, db.session.get(Payment, re.search(r'data-payment="([0-9a-f-]+)"', html).group(1))


def test_the_static_qr_becomes_dynamic_with_the_exact_amount(auth, htmx):
    html, payment = start_qris(auth, htmx)
    parsed = qris.parse(payment.qr_string)
    original = qris.parse(STATIC_VECTOR)
    assert parsed.is_dynamic and parsed.amount == 7500
    assert (parsed.merchant_name, parsed.nmid) == (original.merchant_name, original.nmid)
    assert payment.provider == "static" and payment.provider_trx_id.startswith("STATIC-")
    assert "Sudah Dibayar" in html and "Cek Status" not in html and "Menunggu konfirmasi kasir" in html


def test_status_sync_never_marks_it_paid(auth, htmx):
    _, payment = start_qris(auth, htmx)
    sync.check_status(payment, source="sync")
    assert db.session.get(Payment, payment.id).status == states.PENDING


def test_cashier_confirms_with_pin_and_it_is_audited(auth, htmx):
    _, payment = start_qris(auth, htmx)
    response = htmx.post(f"/pos/payments/{payment.id}/confirm", data={"pin": "2468"})
    assert response.status_code == 286 and "Pembayaran Berhasil" in response.get_data(as_text=True)
    assert 'id="qris-confirm" hx-swap-oob="true"' in response.get_data(as_text=True)
    db.session.expire_all()
    paid = db.session.get(Payment, payment.id)
    assert paid.status == states.PAID and db.session.get(Sale, paid.sale_id).status == "PAID"
    entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "ConfirmStaticPayment"))
    assert entry.outcome == "ok" and entry.actor == "siti"
    assert paid.logs[-1].source == "cashier"


def test_wrong_pin_confirms_nothing_and_is_audited(auth, htmx):
    _, payment = start_qris(auth, htmx)
    response = htmx.post(f"/pos/payments/{payment.id}/confirm", data={"pin": "0000"})
    assert response.status_code == 422 and "PIN salah" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == states.PENDING
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "ConfirmStaticPayment")).outcome == "denied"


def test_gateway_payments_cannot_be_confirmed_by_hand(app, auth, htmx):
    use_gateway(app, provider="mock")
    _, payment = start_qris(auth, htmx)
    response = htmx.post(f"/pos/payments/{payment.id}/confirm", data={"pin": "2468"})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == states.PENDING


def test_confirm_is_rate_limited(app, app_config, auth, htmx):
    from kasir import create_app

    _, payment = start_qris(auth, htmx)
    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "CONFIRM_RATE_LIMIT": "2 per minute"})
    client = limited.test_client()
    AuthActions(client).login_cashier()
    codes = [client.post(f"/pos/payments/{payment.id}/confirm", data={"pin": "0000"},
                         headers={"HX-Request": "true"}).status_code for _ in range(3)]
    assert codes == [422, 422, 429]
    with limited.app_context():
        db.engine.dispose()


def test_manual_refund_is_recorded(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    htmx.post(f"/pos/payments/{payment.id}/confirm", data={"pin": "2468"})
    auth.logout()
    auth.login_admin()
    client.post(f"/admin/payments/{payment.id}/refund", data={"amount": "7500", "reason": "Dikembalikan tunai"})
    db.session.expire_all()
    assert db.session.get(Payment, payment.id).status == states.REFUNDED


def test_no_payload_means_a_clear_error(app, till):
    from kasir.models import Setting

    db.session.delete(db.session.get(Setting, "static_qris_payload"))
    db.session.commit()
    with pytest.raises(service.PaymentError, match="QRIS statis toko belum diatur"):
        charges.create_for_sale(till.add("SKU0001").id)


def test_a_broken_static_qris_is_explained_in_indonesian(app, till):
    from kasir.models import Setting

    db.session.get(Setting, "static_qris_payload").value = STATIC_VECTOR[:-1] + "0"
    db.session.commit()
    with pytest.raises(service.PaymentError) as refused:
        charges.create_for_sale(till.add("SKU0001").id)
    message = str(refused.value)
    assert "kode pemeriksa di akhir (CRC) tidak cocok" in message
    assert "mismatch" not in message and "payload" not in message
