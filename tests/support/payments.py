"""Payment helpers: the mock gateway paid, its "paid" webhook body, and switching the app to another gateway."""
from kasir.extensions import db
from kasir.payments.models import MockLedgerEntry, Payment
from kasir.payments.providers import get_provider


def gateway_pays(payment: Payment) -> None:
    """The customer pays the QR: the mock gateway's books say so (sync and "Cek Status" ask it)."""
    get_provider("mock").settle(db.session.get(MockLedgerEntry, payment.provider_trx_id), "SUCCESS")


def paid_body(payment, **overrides) -> dict:
    body = {"trx_id": payment.provider_trx_id, "order_id": payment.order_id, "amount": payment.amount,
            "status": "SUCCESS", "ref_no": "REF000123"}
    body.update(overrides)
    return body


def use_gateway(app, **form) -> None:
    """Save payment settings as admin would (keys sealed in the settings table)."""
    from kasir.payments import gateway_settings

    with app.app_context():
        gateway_settings.save(form)
        db.session.commit()
