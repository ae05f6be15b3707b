"""QRIS end to end in Debian's Chromium: cashier screen, customer display and simulator on a real server."""

import pytest

from support.browser import (
    fill_cart_and_press_qris,
    open_cashier,
    open_display,
    open_simulator,
    qr_path,
)
from support.databases import query_database
from support.live import order_id_of, start_server

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory)
    yield live
    live.stop()


def test_qris_paid_shows_success_on_both_screens_and_empties_the_cart(browser, server, screenshots):
    cashier, display = open_cashier(browser, server), open_display(browser, server)
    payment_id = fill_cart_and_press_qris(cashier)
    display.wait_for_selector("[data-mode='qris']")
    assert qr_path(cashier, ".qris-code") == qr_path(display, ".display-qr")
    assert "Rp 7.500" in display.text_content(".display-total")
    cashier.screenshot(path=screenshots / "qris-cashier-pending.png")
    display.screenshot(path=screenshots / "qris-display-pending.png")

    simulator = open_simulator(browser, server)
    row = f"tr[data-order='{order_id_of(server, payment_id)}']"
    simulator.click(f"{row} button:has-text('Bayar')")
    simulator.wait_for_load_state()
    cashier.wait_for_selector("#qris-status[data-status='PAID']")
    display.wait_for_selector("[data-mode='thanks']")
    cashier.screenshot(path=screenshots / "qris-cashier-paid.png")
    display.screenshot(path=screenshots / "qris-display-thanks.png")

    cashier.wait_for_selector("#modal [data-modal]", state="detached")
    assert cashier.text_content("[data-cart-total]") == "Rp 0"
    [(sale_id, method)] = query_database(
        server.database_url, "SELECT s.id, s.method FROM sales s JOIN payments p ON p.sale_id = s.id WHERE p.id = :id",
        id=payment_id)
    [(jobs,)] = query_database(server.database_url, "SELECT count(*) FROM print_jobs WHERE sale_id = :id", id=sale_id)
    assert method == "QRIS" and jobs == 1
    display.wait_for_selector("[data-mode='idle']", timeout=10_000)


def test_an_unchanged_status_poll_leaves_the_waiting_qr_in_place_and_its_countdown_runs(browser, server):
    cashier = open_cashier(browser, server)
    fill_cart_and_press_qris(cashier)
    cashier.eval_on_selector("#qris-status", "el => { el.dataset.shown = 'first' }")  # gone if it were swapped
    started_at = cashier.text_content("[data-countdown-text]")
    for _ in range(2):
        with cashier.expect_response(lambda answer: "/status?v=" in answer.url) as polled:
            pass
        assert polled.value.status == 200 and polled.value.headers.get("hx-reswap") == "none"
    cashier.wait_for_function("started => document.querySelector('[data-countdown-text]').textContent !== started",
                              arg=started_at)
    assert cashier.get_attribute("#qris-status", "data-shown") == "first"


def test_cancel_stops_the_qr_and_frees_the_till(browser, server, screenshots):
    cashier = open_cashier(browser, server)
    fill_cart_and_press_qris(cashier)
    cashier.click("#qris-status button:has-text('Batal')")
    cashier.click("#qris-cancel-ask button:has-text('Ya, Batalkan QR')")
    cashier.wait_for_selector("#qris-status[data-status='CANCELLED']")
    cashier.screenshot(path=screenshots / "qris-cashier-cancelled.png")
    cashier.click("#qris-status button:has-text('Tutup')")
    cashier.keyboard.press("F4")
    cashier.wait_for_selector("[data-cash-form]")


def test_regenerate_shows_a_fresh_qr(browser, server, screenshots):
    cashier = open_cashier(browser, server)
    first = fill_cart_and_press_qris(cashier)
    cashier.click("#qris-status button:has-text('Buat QR Baru')")
    cashier.wait_for_selector(f"#qris-status[data-payment]:not([data-payment='{first}'])")
    assert cashier.get_attribute("#qris-status", "data-status") == "PENDING"
    cashier.screenshot(path=screenshots / "qris-cashier-regenerated.png")
    # The fresh QR came inside the modal, so it closes like any other and the next one opens.
    cashier.click("#qris-status button:has-text('Batal')")
    cashier.click("#qris-cancel-ask button:has-text('Ya, Batalkan QR')")
    cashier.click("#qris-status button:has-text('Tutup')")
    cashier.wait_for_selector("#modal [data-modal]", state="detached")
    cashier.keyboard.press("F4")
    cashier.wait_for_selector("#modal [data-cash-form]")


def test_expired_qr_turns_orange_and_can_be_renewed(browser, tmp_path_factory, screenshots):
    short = start_server(tmp_path_factory, EXPIRE_MINUTES="0.1")
    try:
        cashier, display = open_cashier(browser, short), open_display(browser, short)
        first = fill_cart_and_press_qris(cashier)
        cashier.wait_for_selector(".countdown.urgent")
        cashier.wait_for_selector("#qris-status[data-status='EXPIRED']", timeout=15_000)
        cashier.screenshot(path=screenshots / "qris-cashier-expired.png")
        display.wait_for_selector("[data-mode='cart']")
        cashier.click("#qris-status button:has-text('Buat QR Baru')")
        cashier.wait_for_selector(f"#qris-status[data-payment]:not([data-payment='{first}'])")
        display.wait_for_selector("[data-mode='qris']")
    finally:
        short.stop()


def test_lost_connection_shows_koneksi_bermasalah_and_recovers(browser, tmp_path_factory, screenshots):
    live = start_server(tmp_path_factory)
    try:
        cashier = open_cashier(browser, live)
        fill_cart_and_press_qris(cashier)
        live.stop()
        cashier.wait_for_selector("[data-conn-banner]:not([hidden])", timeout=5000)
        assert "Koneksi Bermasalah" in cashier.text_content("[data-conn-banner]")
        cashier.screenshot(path=screenshots / "qris-cashier-offline.png")
        live.serve()
        cashier.wait_for_selector("[data-conn-banner][hidden]", state="attached", timeout=10_000)
        assert cashier.get_attribute("#qris-status", "data-status") == "PENDING"
    finally:
        live.stop()
