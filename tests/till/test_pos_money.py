"""The money rule at the till and on the customer display: cart lock, open-QR bar, split tender, money that
does not fit (issue 20), through the test client."""
import html
import re
from datetime import timedelta

import pytest

from kasir import clock, tenders
from kasir.extensions import db
from kasir.models import AuditLog, Register, Sale
from kasir.payments import service, states
from kasir.payments.models import MockLedgerEntry, Payment
from support.client import display_version_of, is_nothing_new
from support.databases import fresh


@pytest.fixture(autouse=True)
def app_context(app):
    with app.app_context():
        yield


@pytest.fixture
def till(auth, htmx):
    auth.login_cashier()
    return htmx


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def scan(till, *skus):
    for sku in skus:
        till.post("/pos/cart/scan", data={"q": sku})


def open_qr(till, amount: str | None = None) -> Payment:
    response = till.post("/pos/checkout/qris", data={"amount": amount} if amount else {})
    assert response.status_code == 200, text(response)
    return fresh(Payment, re.search(r'data-payment="([0-9a-f-]+)"', text(response)).group(1))


def cart_sale() -> Sale:
    db.session.expire_all()
    return db.session.scalar(db.select(Sale).where(Sale.status == "OPEN").order_by(Sale.id.desc()))


def bar(till) -> str:
    return text(till.get("/pos/money"))


def bar_poll(shown: str) -> str:
    """The URL the bar polls next, as htmx takes it from the element."""
    return re.search(r'id="money-bar"[^>]*hx-get="([^"]+)"', shown).group(1)


def display(client) -> str:
    return text(client.get("/display/1/state?v=x"))


def pay_at_gateway(payment: Payment) -> None:
    """The customer pays the QR: the gateway's books and its webhook (as the simulator's "Bayar" does)."""
    service.apply_status(payment, states.PAID, source="webhook", amount=payment.amount)


def assert_toast(response, message):
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#toast"
    assert message in text(response)


# --- cart lock and the open-QR bar --------------------------------------------------------------------------

def test_a_cart_change_while_a_qr_is_open_is_refused_with_the_open_amount(till):
    scan(till, "SKU0001")
    open_qr(till)
    assert_toast(till.post("/pos/cart/scan", data={"q": "SKU0006"}),
                 "Keranjang terkunci: QR aktif Rp 3.500. Batalkan QR dulu.")
    assert cart_sale().total == 3500


def test_the_bar_shows_the_open_qr_with_keys_to_reopen_and_cancel_also_after_a_reload(till, client):
    scan(till, "SKU0001")
    open_qr(till)
    client.get("/pos")  # a reload: the bar loads itself
    shown = bar(till)
    assert "QR aktif Rp 3.500" in shown and "keranjang terkunci" in shown
    assert 'data-shortcut="F8"' in shown and 'data-shortcut="Control+Delete"' in shown
    assert 'hx-confirm="Batalkan QR Rp 3.500?' in shown


def test_the_bar_answers_nothing_new_while_nothing_it_shows_changed(till):
    scan(till, "SKU0001")
    open_qr(till)
    assert is_nothing_new(till.get(bar_poll(bar(till))))


def test_a_scan_renders_the_bar_again_without_the_cart(till):
    poll = bar_poll(bar(till))
    scan(till, "SKU0001")
    answer = till.get(poll)
    assert answer.status_code == 200 and 'id="money-bar"' in text(answer) and 'id="cart"' not in text(answer)
    assert is_nothing_new(till.get(bar_poll(text(answer))))


def test_a_qr_opened_on_another_tab_brings_the_locked_cart_along(till):
    scan(till, "SKU0001")
    poll = bar_poll(bar(till))
    open_qr(till)
    answer = text(till.get(poll))
    assert "QR aktif Rp 3.500" in answer and 'id="cart"' in answer


def test_f8_reopens_the_open_qr_instead_of_making_another(till):
    scan(till, "SKU0001")
    first = open_qr(till)
    assert open_qr(till).id == first.id
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 1


def test_cancelling_from_the_bar_asks_the_gateway_and_unlocks_the_cart(till):
    scan(till, "SKU0001")
    payment = open_qr(till)
    response = till.post("/pos/money/cancel-qr")
    assert "QR aktif" not in text(response) and 'id="cart"' in text(response)
    assert fresh(Payment, payment.id).status == states.CANCELLED
    assert db.session.get(MockLedgerEntry, payment.provider_trx_id).status == states.CANCELLED
    scan(till, "SKU0006")
    assert cart_sale().total == 7500


def test_the_display_shows_the_open_qr_for_its_exact_amount_and_never_an_old_one(till, client):
    scan(till, "SKU0001")
    first = open_qr(till)
    till.post("/pos/money/cancel-qr")
    scan(till, "SKU0006")
    second = open_qr(till)
    shown = display(client)
    assert "QR aktif" in shown and "Rp 7.500" in shown
    assert (first.amount, second.amount) == (3500, 7500)
    assert f'data-payment="{second.id}"' in shown and first.id not in shown
    assert db.session.scalar(db.select(db.func.count(Payment.id)).where(Payment.status == states.PENDING)) == 1


# --- split tender ----------------------------------------------------------------------------------------

def test_a_qris_for_a_typed_amount_replaces_the_open_qr(till):
    scan(till, "SKU0001", "SKU0006")
    full = open_qr(till)
    part = open_qr(till, "5.000")
    assert (part.amount, fresh(Payment, full.id).status) == (5000, states.CANCELLED)


@pytest.mark.parametrize("amount", ["0", "7.501", "abc"])
def test_a_qris_amount_outside_one_rupiah_to_what_is_due_is_refused(till, amount):
    scan(till, "SKU0001", "SKU0006")
    response = till.post("/pos/checkout/qris", data={"amount": amount})
    assert response.status_code == 422
    assert db.session.scalar(db.select(db.func.count(Payment.id))) == 0


def test_a_part_qr_paid_shows_what_is_paid_and_what_is_left(till):
    scan(till, "SKU0001", "SKU0006")
    payment = open_qr(till, "5000")
    pay_at_gateway(payment)
    final = text(till.get(f"/pos/payments/{payment.id}/status"))
    assert "Sudah dibayar Rp 5.000" in re.sub(r"<[^>]+>", "", final) and "Kurang Rp 2.500" in final
    assert "data-auto-close" not in final
    assert "Kurang Rp 2.500" in bar(till)
    assert re.search(r"data-cart-due><span>Sisa</span><span>Rp 2\.500</span>", final)


def test_split_tender_qris_then_cash_closes_the_sale_and_the_receipt_lists_both(till, client):
    scan(till, "SKU0001", "SKU0006")
    payment = open_qr(till, "5000")
    pay_at_gateway(payment)
    sale = cart_sale()
    paid = text(till.post("/pos/checkout/cash", data={"sale_id": sale.id, "tendered": "10.000"}))
    assert "Pembayaran Berhasil" in paid and "Rp 7.500" in paid
    receipt = text(client.get(f"/receipts/{sale.id}"))
    assert re.search(r"QRIS\s+5\.000", receipt) and re.search(r"Tunai\s+2\.500", receipt)
    assert re.search(r"Diterima\s+10\.000", receipt) and re.search(r"Kembali\s+7\.500", receipt)
    assert "Campuran" in receipt and "LUNAS" in receipt


def test_split_tender_part_debit_then_qris_for_the_rest(till):
    scan(till, "SKU0001", "SKU0006")
    sale = cart_sale()
    response = text(till.post("/pos/checkout/debit", data={"sale_id": sale.id, "edc_reference": "EDC4321",
                                                          "amount": "3.000"}))
    assert "Sudah dibayar <strong>Rp 3.000</strong> · Sisa <strong>Rp 4.500</strong>" in response
    payment = open_qr(till)
    assert payment.amount == 4500
    pay_at_gateway(payment)
    assert fresh(Sale, sale.id).status == "PAID"


# --- money that does not fit ------------------------------------------------------------------------------

def test_issue_20_first_reproduction_the_sale_is_closed_only_on_its_own_qr(till, client):
    """Beng-Beng Rp 2.500 (here SKU0003 Rp 3.400), F8, Esc, scan another: refused; the QR paid closes only that cart."""
    scan(till, "SKU0003")
    payment = open_qr(till)
    assert till.post("/pos/cart/scan", data={"q": "SKU0006"}).status_code == 422
    pay_at_gateway(payment)
    sale = fresh(Sale, payment.sale_id)
    assert (sale.status, sale.total, tenders.received(sale)) == ("PAID", 3400, 3400)
    thanks = display(client)
    assert "Pembayaran QRIS Rp 3.400 diterima" in thanks


def test_issue_20_second_reproduction_a_cancelled_qr_paid_late_never_closes_the_bigger_cart(till, client):
    scan(till, "SKU0003")
    payment = open_qr(till)
    till.post("/pos/money/cancel-qr")
    scan(till, "SKU0006")  # Rp 3.400 + Rp 4.000
    pay_at_gateway(payment)  # the customer pays the cancelled Rp 3.400 QR late
    sale = fresh(Sale, payment.sale_id)
    assert (sale.status, tenders.received(sale)) == ("OPEN", 0)
    shown_bar, shown_display = bar(till), display(client)
    assert "Pembayaran terlambat Rp 3.400" in shown_bar and "Pakai untuk transaksi ini" in shown_bar
    assert "diterima" not in shown_display.replace("masuk setelah", "")
    assert "Pembayaran Rp 3.400 masuk setelah QR dibatalkan/kedaluwarsa" in shown_display
    assert "Terima kasih" not in shown_display


def test_the_cashier_applies_a_late_payment_and_the_till_shows_what_is_short(till, client):
    scan(till, "SKU0003")
    payment = open_qr(till)
    till.post("/pos/money/cancel-qr")
    scan(till, "SKU0006")
    pay_at_gateway(payment)
    response = text(till.post(f"/pos/money/payments/{payment.id}/use"))
    assert "Kurang Rp 4.000" in response and "Pembayaran terlambat" not in response
    assert "Kurang" in display(client) and "Rp 4.000" in display(client)
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == "UseLatePayment"))


def pay_twice(till) -> Payment:
    """The customer pays cash, and then the QR the cash cancelled: its money is double."""
    scan(till, "SKU0001")
    payment = open_qr(till)
    till.post("/pos/checkout/cash", data={"sale_id": payment.sale_id, "tendered": "5.000"})  # cancels the QR first
    pay_at_gateway(payment)
    return payment


def the_next_day(monkeypatch) -> None:
    tomorrow = clock.utcnow() + timedelta(days=1)
    monkeypatch.setattr(clock, "utcnow", lambda: tomorrow)


def test_a_double_payment_raises_a_banner_until_noted_for_refund(till, client):
    payment = pay_twice(till)
    shown = bar(till)
    assert "Pembayaran terlambat Rp 3.500" in shown and tenders.DOUBLE_PAYMENT in shown
    assert "Pakai untuk transaksi ini" not in shown  # its sale is paid already
    assert "Rp 3.500" in display(client) and "kasir akan memprosesnya" in display(client)
    noted = text(till.post(f"/pos/money/payments/{payment.id}/acknowledge"))
    assert "Pembayaran terlambat" not in noted
    assert "kasir akan memprosesnya" not in display(client)
    assert tenders.unapplied_payments()[0][1] == 3500  # still on the refund list
    assert db.session.scalar(db.select(AuditLog).where(AuditLog.action == tenders.ACKNOWLEDGED))


def test_the_day_before_s_double_payment_leaves_the_bar_when_the_day_turns(till, monkeypatch):
    pay_twice(till)
    shown = bar(till)
    assert "Pembayaran terlambat" in shown
    poll = bar_poll(shown)
    assert is_nothing_new(till.get(poll))
    the_next_day(monkeypatch)
    answer = text(till.get(poll))
    assert 'id="money-bar"' in answer and "Pembayaran terlambat" not in answer


def test_the_day_before_s_double_payment_leaves_the_display_when_the_day_turns(till, client, monkeypatch):
    pay_twice(till)
    shown = display(client)
    assert "kasir akan memprosesnya" in shown
    version = display_version_of(shown)
    assert client.get(f"/display/1/state?v={version}").status_code == 204
    the_next_day(monkeypatch)
    answer = client.get(f"/display/1/state?v={version}")
    assert answer.status_code == 200 and "kasir akan memprosesnya" not in text(answer)


def test_the_display_state_changes_version_when_a_part_payment_arrives(till, client):
    scan(till, "SKU0001", "SKU0006")
    payment = open_qr(till, "5000")
    before = db.session.scalar(db.select(Register.display_version))
    pay_at_gateway(payment)
    db.session.expire_all()
    assert db.session.scalar(db.select(Register.display_version)) > before
    shown = display(client)
    assert 'data-mode="cart"' in shown and "Sudah dibayar" in shown and "Rp 2.500" in shown
    assert "Terima kasih" not in shown


def test_the_money_bar_sees_a_cash_part_payment_at_its_next_poll(client, auth, htmx):
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0006"})
    poll = bar_poll(text(htmx.get("/pos/money")))
    assert is_nothing_new(htmx.get(poll))
    sale_id = re.search(r'data-sale="(\d+)"', htmx.get("/pos").get_data(as_text=True)).group(1)
    paid = htmx.post("/pos/checkout/cash", data={"sale_id": sale_id, "tendered": "1.000", "amount": "1.000"})
    assert paid.status_code == 200, paid.get_data(as_text=True)
    answer = htmx.get(poll)
    assert answer.status_code == 200 and "Kurang" in answer.get_data(as_text=True)
