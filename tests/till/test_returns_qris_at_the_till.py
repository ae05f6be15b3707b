""""Retur" at the till refunded back to QRIS: the modal's choice, the supervisor, the gateway's answer, the slip."""
import html
import re

import pytest

from kasir import create_app
from kasir.extensions import db
from kasir.models import PrintJob, Product, Register, Sale, SaleReturn
from kasir.payments import refunds as payment_refunds
from kasir.payments import states
from kasir.payments.models import MockLedgerEntry, Payment
from kasir.payments.providers.base import ProviderError
from kasir.payments.providers.mock import MockProvider
from support.config import ADMIN, CASHIER
from support.databases import fresh

SUPERVISOR = {"approver": ADMIN[0], "approver_secret": ADMIN[1]}
DRAWER_PULSE = b"\x1bp"  # ESC p


@pytest.fixture
def pos(auth, htmx, app):
    with app.app_context():
        auth.login_cashier()
        yield htmx


def open_sale():
    db.session.expire_all()
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    return db.session.scalar(db.select(Sale).where(Sale.register_id == register.id, Sale.status == "OPEN"))


def fill(pos, *skus):
    for sku in skus:
        assert pos.post("/pos/cart/scan", data={"q": sku}).status_code == 200
    return open_sale()


def paid_by_qris(pos, send_webhook, *skus):
    """A sale paid by a mock QRIS: the simulated gateway settles it and says so in a webhook."""
    fill(pos, *skus)
    response = pos.post("/pos/checkout/qris")
    payment_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    payment = fresh(Payment, payment_id)
    body = MockProvider().settle(db.session.get(MockLedgerEntry, payment.provider_trx_id), "SUCCESS")
    assert send_webhook(body).status_code == 200
    payment = fresh(Payment, payment_id)
    assert payment.status == states.PAID
    return fresh(Sale, payment.sale_id), payment


def paid_in_cash(pos, *skus):
    sale = fill(pos, *skus)
    assert pos.post("/pos/checkout/cash", data={"sale_id": str(sale.id), "tendered": "50.000"}).status_code == 200
    return fresh(Sale, sale.id)


def text(response):
    return html.unescape(response.get_data(as_text=True))


def item_of(sale, sku):
    return next(item for item in sale.items if item.sku == sku)


def returns_count():
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count(SaleReturn.id)))


def refunded(payment):
    return payment_refunds.refunded_amount(fresh(Payment, payment.id))


def test_a_qris_sales_return_modal_offers_the_qris_refund_chosen_by_default(pos, send_webhook):
    sale, _payment = paid_by_qris(pos, send_webhook, "SKU0006")
    modal = text(pos.get(f"/pos/sales/{sale.id}/return"))
    assert "Kembalikan ke QRIS" in modal and "paling banyak Rp 4.000" in modal
    assert re.search(r'value="QRIS" checked', modal)


def test_a_cash_sales_return_modal_offers_cash_only(pos):
    sale = paid_in_cash(pos, "SKU0006")
    modal = text(pos.get(f"/pos/sales/{sale.id}/return"))
    assert "Kembalikan ke QRIS" not in modal and re.search(r'value="CASH" checked', modal)


def test_a_cashiers_qris_return_asks_a_supervisor_before_the_gateway(pos, send_webhook):
    sale, payment = paid_by_qris(pos, send_webhook, "SKU0006")
    item = sale.items[0]
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{item.id}": "1", "method": "QRIS"})
    assert response.status_code == 403 and "Persetujuan Supervisor" in text(response)
    assert 'name="method" value="QRIS"' in text(response)  # re-sent once a supervisor approves
    assert refunded(payment) == 0 and returns_count() == 0


def test_an_approved_qris_return_refunds_through_the_gateway_and_says_so(pos, send_webhook):
    sale, payment = paid_by_qris(pos, send_webhook, "SKU0001", "SKU0006")
    item = item_of(sale, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return",
                        data={f"qty-{item.id}": "1", "method": "QRIS", **SUPERVISOR})
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/pos/sales"
    assert refunded(payment) == 4000
    listing = text(pos.get("/pos/sales"))
    assert "Dikembalikan ke QRIS Rp 4.000" in listing and "Kembalikan tunai" not in listing


def test_a_refusing_gateway_is_said_in_indonesian_and_nothing_changes(pos, send_webhook, monkeypatch):
    sale, payment = paid_by_qris(pos, send_webhook, "SKU0006")

    def refuse(self, *args):
        raise ProviderError("upstream 503", code="unavailable")

    monkeypatch.setattr(MockProvider, "refund", refuse)
    stock_before = db.session.scalar(db.select(Product.stock).where(Product.sku == "SKU0006"))
    response = pos.post(f"/pos/sales/{sale.id}/return",
                        data={f"qty-{sale.items[0].id}": "1", "method": "QRIS", **SUPERVISOR})
    body = text(response)
    assert response.status_code == 422 and "Refund QRIS gagal" in body and "pilih Tunai" in body
    assert "upstream" not in body  # the gateway's own words stay in the log
    db.session.expire_all()
    assert db.session.scalar(db.select(Product.stock).where(Product.sku == "SKU0006")) == stock_before
    assert returns_count() == 0 and refunded(payment) == 0


def test_a_qris_refund_asked_of_a_cash_sale_is_refused_in_words(pos):
    sale = paid_in_cash(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return",
                        data={f"qty-{sale.items[0].id}": "1", "method": "QRIS", **SUPERVISOR})
    assert response.status_code == 422 and "Pilih Tunai" in text(response) and returns_count() == 0


def test_an_unknown_refund_method_is_refused(pos):
    sale = paid_in_cash(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return",
                        data={f"qty-{sale.items[0].id}": "1", "method": "EMAS", **SUPERVISOR})
    assert response.status_code == 422 and "tidak dikenal" in text(response)


def test_a_fully_refunded_qris_is_not_offered_and_the_modal_says_why(pos, send_webhook):
    sale, payment = paid_by_qris(pos, send_webhook, "SKU0006")
    payment_refunds.refund(payment, 4000, "salah transaksi", "admin")
    db.session.commit()
    modal = text(pos.get(f"/pos/sales/{sale.id}/return"))
    assert 'value="QRIS"' not in modal and "tidak bisa direfund lewat gateway" in modal


def test_the_return_slip_is_printed_after_the_return(pos, send_webhook, printer):
    sale, _payment = paid_by_qris(pos, send_webhook, "SKU0006")
    printer.wait_for_jobs(1)  # the sale's own receipt
    response = pos.post(f"/pos/sales/{sale.id}/return",
                        data={f"qty-{sale.items[0].id}": "1", "method": "QRIS", **SUPERVISOR})
    assert response.status_code == 204
    slip = printer.wait_for_jobs(2)[-1]
    assert b"RETUR" in slip and sale.display_number.encode() in slip and b"Dikembalikan ke QRIS" in slip


def test_a_printer_failure_never_undoes_the_return(pos, app, free_tcp_port):
    app.config["PRINTER_URL"] = f"tcp://127.0.0.1:{free_tcp_port}"  # nothing listens there
    sale = paid_in_cash(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1", **SUPERVISOR})
    assert response.status_code == 204 and returns_count() == 1
    assert "Slip retur belum tercetak" in text(pos.get("/pos/sales"))
    banner = text(pos.get("/printing/status"))  # the till's banner offers the slip again, not the receipt
    assert "Slip retur · No. " + sale.display_number in banner and f"/pos/sales/{sale.id}/returns/1/print" in banner


def test_the_sales_list_reprints_a_return_slip(pos, send_webhook, printer):
    sale = paid_in_cash(pos, "SKU0006")
    pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1", **SUPERVISOR})
    listing = text(pos.get("/pos/sales"))
    assert f"/pos/sales/{sale.id}/returns/1/print" in listing and "Slip Retur" in listing
    before = len(printer.jobs)
    response = pos.post(f"/pos/sales/{sale.id}/returns/1/print")
    assert response.status_code == 200 and "Slip retur dicetak" in text(response)
    assert b"RETUR" in printer.wait_for_jobs(before + 1)[-1]
    kinds = db.session.scalars(db.select(PrintJob.kind).where(PrintJob.sale_id == sale.id)).all()
    assert kinds.count("return:1") == 2


def test_reprinting_a_return_that_does_not_exist_is_a_toast(pos, printer):
    sale = paid_in_cash(pos, "SKU0006")
    response = pos.post(f"/pos/sales/{sale.id}/returns/9/print")
    assert response.status_code == 404 and "Retur tidak ditemukan" in text(response)


def test_a_return_without_a_csrf_token_is_refused(app_config):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login).group(1)
    client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1], "csrf_token": token})
    response = client.post("/pos/sales/1/return", data={"qty-1": "1", "method": "QRIS", **SUPERVISOR},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400 and "Muat ulang" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(SaleReturn.id))) == 0
        db.engine.dispose()


def test_the_day_report_page_shows_returns_by_method(pos, auth, client, send_webhook):
    sale, _payment = paid_by_qris(pos, send_webhook, "SKU0001", "SKU0006")
    item = item_of(sale, "SKU0006")
    pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{item.id}": "1", "method": "QRIS", **SUPERVISOR})
    auth.login_admin()
    page = text(client.get(f"/admin/reports?from={sale.business_date}"))
    rows = {name: re.search(rf'data-figure="{name}">(.*?)</tr>', page, re.S).group(1)
            for name in ("returns", "returns_cash", "returns_qris")}
    assert "Rp 4.000" in rows["returns"] and "Rp 0" in rows["returns_cash"] and "Rp 4.000" in rows["returns_qris"]


def test_a_cash_returns_first_slip_opens_the_drawer_and_a_reprint_does_not(pos, printer):
    sale = paid_in_cash(pos, "SKU0006")
    printer.wait_for_jobs(1)  # the sale's receipt (its drawer pulse)
    pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1", **SUPERVISOR})
    slip = printer.wait_for_jobs(2)[-1]
    pos.post(f"/pos/sales/{sale.id}/returns/1/print")
    copy = printer.wait_for_jobs(3)[-1]
    assert b"RETUR" in slip and DRAWER_PULSE in slip
    assert b"RETUR" in copy and DRAWER_PULSE not in copy


def test_a_slip_all_back_to_qris_leaves_the_drawer_shut(pos, send_webhook, printer):
    sale, _payment = paid_by_qris(pos, send_webhook, "SKU0006")
    printer.wait_for_jobs(1)
    pos.post(f"/pos/sales/{sale.id}/return", data={f"qty-{sale.items[0].id}": "1", "method": "QRIS", **SUPERVISOR})
    slip = printer.wait_for_jobs(2)[-1]
    assert b"RETUR" in slip and DRAWER_PULSE not in slip
