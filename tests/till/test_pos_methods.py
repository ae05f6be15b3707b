""""Transfer VA" and "Bayar via HP" at the till (the mock gateway offers every method), through the test client."""
import re

import pytest

from kasir import clock
from kasir.payments import states
from kasir.payments.models import Payment
from support.databases import fresh
from support.gateways import XENDIT_KEY, XENDIT_TOKEN
from support.payments import paid_body, use_gateway


@pytest.fixture(autouse=True)
def app_context(app):
    with app.app_context():
        yield


def start(auth, htmx, url, **form):
    auth.login_cashier()
    for sku in ("SKU0001", "SKU0006"):
        htmx.post("/pos/cart/scan", data={"q": sku})
    response = htmx.post(url, data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    payment_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    return response.get_data(as_text=True), fresh(Payment, payment_id)


def test_cart_offers_va_and_link_when_the_gateway_does(auth, htmx, client):
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    assert "data-pay-other" in client.get("/pos").get_data(as_text=True)
    panel = htmx.get("/pos/pay/other").get_data(as_text=True)
    assert "Transfer VA" in panel and "Bayar via HP" in panel
    assert 'name="bank" value="mandiri">Mandiri</button>' in panel


def test_cart_hides_va_and_link_when_the_gateway_offers_qris_only(app, auth, htmx, client):
    use_gateway(app, provider="xendit", xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN)
    auth.login_cashier()
    html = client.get("/pos").get_data(as_text=True)
    assert "data-pay-other" not in html and "Transfer VA" not in html and "Bayar via HP" not in html


def test_va_modal_shows_bank_grouped_number_amount_and_polls(auth, htmx):
    html, payment = start(auth, htmx, "/pos/checkout/va", bank="bni")
    number = payment.instructions["va"]["number"]
    assert payment.method == "va" and payment.status == states.PENDING
    assert "Virtual Account BNI" in html and f"{number[:4]} {number[4:8]}" in html and "Rp 7.500" in html
    assert 'hx-trigger="every 1s, kasir:retry"' in html


def test_an_open_va_is_called_a_va_on_the_till(auth, htmx):
    html, _payment = start(auth, htmx, "/pos/checkout/va", bank="bca")
    bar = htmx.get("/pos/money").get_data(as_text=True)
    assert "VA aktif Rp 7.500" in bar and "QR aktif" not in bar
    assert "Sisa setelah" not in html or "Sisa setelah VA ini" in html


def test_a_waiting_va_offers_a_new_va_on_every_poll(auth, htmx):
    html, payment = start(auth, htmx, "/pos/checkout/va", bank="bca")
    poll = htmx.get(f"/pos/payments/{payment.id}/status").get_data(as_text=True)
    assert "Buat VA Baru" in html and "Buat VA Baru" in poll and "Buat QR Baru" not in poll


def test_va_without_a_bank_is_refused_and_nothing_is_made(auth, htmx):
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    response = htmx.post("/pos/checkout/va", data={"bank": "nope"})
    assert "Pilih bank untuk VA." in response.get_data(as_text=True)
    assert Payment.query.count() == 0


def test_link_modal_shows_a_qr_of_the_payment_url(auth, htmx):
    html, payment = start(auth, htmx, "/pos/checkout/link")
    assert payment.method == "link" and "Bayar via HP" in html and "<svg" in html
    assert payment.instructions["payment_url"] in html


def test_a_paid_va_ends_the_poll_with_286(auth, htmx, send_webhook):
    _, payment = start(auth, htmx, "/pos/checkout/va", bank="bca")
    send_webhook(paid_body(payment))
    response = htmx.get(f"/pos/payments/{payment.id}/status")
    assert response.status_code == 286 and fresh(Payment, payment.id).status == states.PAID


def test_va_is_refused_when_the_gateway_offers_qris_only(app, auth, htmx):
    use_gateway(app, provider="xendit", xendit_secret_key=XENDIT_KEY, xendit_callback_token=XENDIT_TOKEN)
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    response = htmx.post("/pos/checkout/va", data={"bank": "bca"})
    assert "tidak tersedia" in response.get_data(as_text=True) and Payment.query.count() == 0


def test_display_shows_the_va_bank_grouped_number_amount_and_countdown(auth, htmx, client):
    _, payment = start(auth, htmx, "/pos/checkout/va", bank="mandiri")
    html = client.get("/display/1").get_data(as_text=True)
    number = payment.instructions["va"]["number"]
    grouped = " ".join(number[index:index + 4] for index in range(0, len(number), 4))
    assert 'data-method="va"' in html and "Transfer ke VA Mandiri" in html and grouped in html
    assert "Kode perusahaan: 70012" in html and "Rp 7.500" in html and "data-expires-at" in html


def test_display_shows_a_qr_of_the_link_for_the_customers_phone(auth, htmx, client):
    start(auth, htmx, "/pos/checkout/link")
    html = client.get("/display/1").get_data(as_text=True)
    assert 'data-method="link"' in html and "data-payment-url" in html and "<svg" in html
    assert "Pindai dengan kamera HP" in html


def test_cetak_nomor_va_prints_bank_number_amount_and_expiry_in_wib(app, auth, htmx, tmp_path):
    slip = tmp_path / "slip.bin"
    app.config["PRINTER_URL"] = f"file://{slip}"
    html, payment = start(auth, htmx, "/pos/checkout/va", bank="bri")
    assert "Cetak Nomor VA" in html

    response = htmx.post(f"/pos/payments/{payment.id}/print-va")

    assert response.status_code == 200 and "Nomor VA dicetak." in response.get_data(as_text=True)
    printed = slip.read_bytes().decode("cp437", errors="replace")
    number = payment.instructions["va"]["number"]
    expiry = clock.format_wib(payment.expires_at, "%d/%m/%Y %H:%M")
    assert "NOMOR VIRTUAL ACCOUNT" in printed and "BRI" in printed and f"{number[:4]} {number[4:8]}" in printed
    assert "Rp 7.500" in printed and f"{expiry} WIB" in printed


def test_cetak_nomor_va_is_refused_for_a_qris_payment(auth, htmx):
    _, payment = start(auth, htmx, "/pos/checkout/qris")
    response = htmx.post(f"/pos/payments/{payment.id}/print-va")
    assert "bukan Virtual Account" in response.get_data(as_text=True)
