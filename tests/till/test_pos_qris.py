"""QRIS on the cashier screen and the customer display, through the test client."""
import logging
import re
from datetime import timedelta

import pytest

from kasir import clock, qris
from kasir.extensions import db
from kasir.models import Register, Sale
from kasir.payments import states
from kasir.payments.models import Payment
from support.client import AuthActions, display_version_of, is_nothing_new
from support.config import PROJECT_ROOT
from support.databases import fresh
from support.payments import paid_body


@pytest.fixture(autouse=True)
def app_context(app):
    # Reads below see the database as the requests left it: each request has its own context and session.
    with app.app_context():
        yield


def start_qris(auth, htmx, *skus):
    auth.login_cashier()
    for sku in skus or ("SKU0001", "SKU0006"):
        htmx.post("/pos/cart/scan", data={"q": sku})
    response = htmx.post("/pos/checkout/qris")
    assert response.status_code == 200, response.get_data(as_text=True)
    payment_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    return response, fresh(Payment, payment_id)


def test_qris_modal_shows_qr_amount_countdown_and_polls_every_second(client, auth, htmx):
    response, payment = start_qris(auth, htmx)
    html = response.get_data(as_text=True)
    assert "<svg" in html and "Rp 7.500" in html and "Scan dengan aplikasi e-wallet atau m-banking" in html
    assert 'hx-trigger="every 1s, kasir:retry"' in html
    # 15 minutes from the QR's creation, less what a loaded machine took to answer.
    assert re.search(r"data-countdown-text>(15:00|14:[0-5][0-9])<", html)
    assert payment.status == states.PENDING


def test_status_poll_is_200_while_pending(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    response = htmx.get(f"/pos/payments/{payment.id}/status")
    assert response.status_code == 200 and "every 1s" in response.get_data(as_text=True)


def poll_path(html: str) -> str:
    """The status partial's own hx-get, as htmx polls it."""
    return re.search(r'id="qris-status"[^>]*hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


def test_an_unchanged_status_poll_answers_nothing_new_to_its_own_version(client, auth, htmx):
    modal, payment = start_qris(auth, htmx)
    path = poll_path(modal.get_data(as_text=True))
    assert "?v=PENDING." in path
    answer = htmx.get(path)
    assert is_nothing_new(answer)


def test_a_status_poll_with_an_old_version_gets_the_partial_again(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    answer = htmx.get(f"/pos/payments/{payment.id}/status?v=PENDING.0")
    assert answer.status_code == 200
    path = poll_path(answer.get_data(as_text=True))
    assert "?v=PENDING." in path and not path.endswith("?v=PENDING.0")


def test_a_paid_payment_answers_286_even_to_the_waiting_version(client, auth, htmx, send_webhook):
    modal, payment = start_qris(auth, htmx)
    send_webhook(paid_body(payment))
    assert htmx.get(poll_path(modal.get_data(as_text=True))).status_code == 286


def test_each_status_poll_shows_the_countdown_of_its_moment(client, auth, htmx, monkeypatch):
    _, payment = start_qris(auth, htmx)
    first = htmx.get(f"/pos/payments/{payment.id}/status").get_data(as_text=True)
    later = clock.utcnow() + timedelta(minutes=5)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    assert "Sisa waktu <span data-countdown-text>14:" in first
    assert "Sisa waktu <span data-countdown-text>09:" in htmx.get(f"/pos/payments/{payment.id}/status").get_data(
        as_text=True)


def test_a_pending_status_poll_is_not_an_info_log_line(client, auth, htmx, caplog):
    _, payment = start_qris(auth, htmx)
    with caplog.at_level(logging.INFO, logger="kasir.request"):
        caplog.clear()
        htmx.get(f"/pos/payments/{payment.id}/status")
    assert not [record for record in caplog.records if record.name == "kasir.request"]


def test_a_status_poll_without_a_register_goes_to_choose_one(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    client.delete_cookie("kasir_register")
    answer = htmx.get(f"/pos/payments/{payment.id}/status")
    assert answer.status_code == 302 and answer.headers["HX-Redirect"] == "/pos/register"


def test_status_poll_answers_286_with_a_final_partial_once_paid(client, auth, htmx, send_webhook):
    _, payment = start_qris(auth, htmx)
    send_webhook(paid_body(payment))
    response = htmx.get(f"/pos/payments/{payment.id}/status")
    html = response.get_data(as_text=True)
    assert response.status_code == 286
    assert "hx-trigger" not in html.split('id="cart"')[0]
    assert "Pembayaran Berhasil" in html and 'data-auto-close="2000"' in html
    assert 'id="cart"' in html and "Keranjang kosong" in html
    sale = fresh(Sale, payment.sale_id)
    assert sale.status == "PAID" and sale.method == "QRIS"


def test_cancel_button_cancels_and_stops_polling(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    response = htmx.post(f"/pos/payments/{payment.id}/cancel")
    assert response.status_code == 286 and "dibatalkan" in response.get_data(as_text=True)


def test_check_status_button_applies_a_payment_the_webhook_never_delivered(client, auth, htmx):
    from kasir.payments.models import MockLedgerEntry
    from kasir.payments.providers import get_provider

    _, payment = start_qris(auth, htmx)
    get_provider("mock").settle(db.session.get(MockLedgerEntry, payment.provider_trx_id), "SUCCESS")
    response = htmx.post(f"/pos/payments/{payment.id}/check")
    assert response.status_code == 286


def test_regenerate_returns_a_new_modal_for_a_new_payment(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    response = htmx.post(f"/pos/payments/{payment.id}/regenerate")
    new_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    assert new_id != payment.id
    assert fresh(Payment, payment.id).status == states.CANCELLED


def test_choosing_cash_while_a_qr_is_open_cancels_the_qr(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    assert htmx.get("/pos/pay/cash").status_code == 200
    assert fresh(Payment, payment.id).status == states.CANCELLED


def test_pressing_qris_twice_reuses_the_open_qr(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    again = htmx.post("/pos/checkout/qris")
    assert f'data-payment="{payment.id}"' in again.get_data(as_text=True)


def test_qris_with_an_empty_cart_is_refused(client, auth, htmx):
    auth.login_cashier()
    response = htmx.post("/pos/checkout/qris")
    assert response.status_code == 422 and "kosong" in response.get_data(as_text=True)


def test_another_registers_payment_is_not_visible(client, auth, htmx, app):
    _, payment = start_qris(auth, htmx)
    db.session.add(Register(code="2", name="Kasir 2"))
    db.session.commit()
    client.set_cookie("kasir_register", "2")
    assert htmx.get(f"/pos/payments/{payment.id}/status").status_code == 404


def test_qr_generation_is_rate_limited(app_config):
    from kasir import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True, "QR_RATE_LIMIT": "2 per minute"})
    client = limited.test_client()
    AuthActions(client).login_cashier()
    codes = [client.post("/pos/checkout/qris", headers={"HX-Request": "true"}).status_code for _ in range(3)]
    assert codes[-1] == 429
    with limited.app_context():
        db.engine.dispose()


def test_display_follows_cart_qr_and_thanks(client, auth, htmx, send_webhook):
    auth.login_cashier()
    idle = client.get("/display/1").get_data(as_text=True)
    assert 'data-mode="idle"' in idle
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    cart = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    assert 'data-mode="cart"' in cart and "Indomie" in cart
    response = htmx.post("/pos/checkout/qris")
    payment_id = re.search(r'data-payment="([0-9a-f-]+)"', response.get_data(as_text=True)).group(1)
    qr = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    assert 'data-mode="qris"' in qr and "<svg" in qr and "Rp 3.500" in qr
    send_webhook(paid_body(fresh(Payment, payment_id)))
    thanks = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    assert 'data-mode="thanks"' in thanks and "Terima kasih" in thanks


def test_display_state_is_204_when_nothing_changed(client):
    page = client.get("/display/1").get_data(as_text=True)
    version = display_version_of(page)
    assert client.get(f"/display/1/state?v={version}").status_code == 204


def test_display_from_another_device_needs_the_token(client, app):
    db.session.scalar(db.select(Register)).display_token = "rahasia"
    db.session.commit()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/display/1", environ_base=remote).status_code == 403
    assert client.get("/display/1?token=salah", environ_base=remote).status_code == 403
    assert client.get("/display/1?token=rahasia", environ_base=remote).status_code == 200


def test_qris_button_is_disabled_with_the_reason_when_the_provider_is_down(client, auth, htmx, monkeypatch):
    from kasir.payments import health
    from kasir.payments.providers.base import ConnectionResult, ProviderUnavailable
    from kasir.payments.providers.mock import MockProvider

    def unreachable(self):
        raise ProviderUnavailable("Gateway tidak menjawab (timeout).")

    monkeypatch.setattr(health, "_latest", {})  # this process's measurements, restored after the test
    monkeypatch.setattr(MockProvider, "test_connection", unreachable)
    assert health.refresh("mock") == ConnectionResult(ok=False, latency_ms=None,
                                                      message="Gateway tidak menjawab (timeout).")
    auth.login_cashier()
    cart = htmx.post("/pos/cart/scan", data={"q": "SKU0001"}).get_data(as_text=True)
    qris_button = cart.split('class="btn btn-pay btn-qris"', 1)[1].split(">", 1)[0]
    assert "disabled" in qris_button
    assert "QRIS tidak tersedia: Gateway tidak menjawab (timeout)." in cart
    assert 'class="btn btn-pay btn-cash"' in cart and "Tunai" in cart


def test_admin_makes_a_display_link_that_works_from_another_device(client, auth):
    auth.login_admin()
    client.post("/admin/registers/1/display-link")
    page = client.get("/admin/settings").get_data(as_text=True)
    link = re.search(r'<code class="token">(http://[^<]+)</code>', page).group(1)
    path = link.split("localhost", 1)[1].replace("&amp;", "&")
    assert client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 200
    client.post("/admin/registers/1/display-link")
    assert client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code == 403


def test_qris_on_a_rp_0_total_says_so_not_that_the_cart_is_empty(client, auth, htmx):
    auth.login_cashier()
    htmx.post("/pos/cart/scan", data={"q": "SKU0001"})
    htmx.post("/pos/cart/discount", data={"discount": "100%"})
    response = htmx.post("/pos/checkout/qris")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "Total Rp 0 tidak bisa dibayar" in body
    assert "Keranjang masih kosong" not in body


def test_the_countdown_reads_as_time_left_on_the_till_and_the_display(client, auth, htmx):
    response, payment = start_qris(auth, htmx)
    assert "Sisa waktu <span data-countdown-text>" in response.get_data(as_text=True)
    assert "Sisa waktu <span data-countdown-text>" in htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    assert "Berlaku" not in response.get_data(as_text=True)


def test_a_fresh_qr_has_one_name_everywhere(client, auth, htmx, app):
    response, payment = start_qris(auth, htmx)
    assert "Buat QR Baru" in response.get_data(as_text=True)
    final = htmx.post(f"/pos/payments/{payment.id}/cancel").get_data(as_text=True)
    assert "Buat QR Baru" in final
    for path in (PROJECT_ROOT / "templates").rglob("*.html"):
        assert "Perbarui QR" not in path.read_text(), path


def test_batal_only_asks_and_the_question_cancels(client, auth, htmx):
    response, payment = start_qris(auth, htmx)
    body = response.get_data(as_text=True)
    status = body.split('id="qris-status"', 1)[1].split('id="qris-cancel-ask"', 1)[0]
    batal = re.search(r"<button[^>]*>Batal</button>", status).group(0)
    assert "hx-post" not in batal and "data-ask-cancel" in batal
    ask = body.split('id="qris-cancel-ask"', 1)[1]
    assert " hidden " in ask.split(">", 1)[0] + " " and "Batalkan QR Rp 7.500?" in ask
    assert f'hx-post="/pos/payments/{payment.id}/cancel"' in ask
    assert fresh(Payment, payment.id).status == states.PENDING
    # Once the QR is final, the question goes away with it.
    final = htmx.post(f"/pos/payments/{payment.id}/cancel").get_data(as_text=True)
    assert '<div id="qris-cancel-ask" hx-swap-oob="true" hidden></div>' in final


def test_the_display_frames_the_qr_with_the_qris_mark_merchant_and_nmid(client, auth, htmx):
    _, payment = start_qris(auth, htmx)
    payload = qris.parse(payment.qr_string)
    assert payload.nmid
    state = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    frame = state.split('<figure class="qris-frame"', 1)[1].split("</figure>", 1)[0]
    assert 'src="/static/img/qris-mark.svg" alt="QRIS"' in frame
    assert f"data-merchant>{payload.merchant_name}</p>" in frame
    assert f"data-nmid>NMID: {payload.nmid}</p>" in frame
    assert "<svg" in frame
    assert (PROJECT_ROOT / "static/img/qris-mark.svg").read_text().startswith("<svg")


def test_the_display_shows_the_latest_lines_and_how_many_more(client, auth, htmx):
    auth.login_cashier()
    skus = [f"SKU{number:04d}" for number in range(1, 13)]
    for sku in skus:
        htmx.post("/pos/cart/scan", data={"q": sku})
    htmx.post("/pos/cart/scan", data={"q": "2*SKU0001"})  # the first line again: 3 of it now, still the first line
    state = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    names = [name for _, name in re.findall(r"<li><span>(\d+) × ([^<]+)</span>", state)]
    sale = db.session.scalar(db.select(Sale).where(Sale.status == "OPEN"))
    assert names == [item.name for item in sale.items[-7:]]
    hidden = sum(item.quantity for item in sale.items[:-7])
    assert hidden == 3 + 4 and f"data-more>+{hidden} barang lainnya</li>" in state
    assert f"({sale.item_count} barang)" in state


def test_the_display_shows_every_line_while_they_fit(client, auth, htmx):
    auth.login_cashier()
    for number in range(1, 9):
        htmx.post("/pos/cart/scan", data={"q": f"SKU{number:04d}"})
    state = htmx.get("/display/1/state?v=0.0").get_data(as_text=True)
    assert len(re.findall(r"<li><span>\d+ × ", state)) == 8 and "barang lainnya" not in state


def test_a_till_order_id_already_taken_moves_on_to_the_next_attempt(app, client, auth, htmx, api_token):
    # Made before the API refused the till's POS- prefix (or kept in a restored database).
    from kasir.api.models import ApiKey
    from kasir.clock import business_date
    from kasir.payments import charges

    taken = f"POS-1-{business_date():%y%m%d}-0001-1"
    charges.create_api_payment(api_key_id=db.session.scalar(db.select(ApiKey.id)), order_id=taken, amount=1000)
    _, payment = start_qris(auth, htmx)
    assert payment.order_id == taken[:-1] + "2" and payment.attempt == 2 and payment.status == states.PENDING
