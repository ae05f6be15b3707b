"""The QRIS cashier flow of test_browser_qris with PROVIDER=midtrans, against the loopback fake Midtrans."""

import pytest
import requests

from support.browser import fill_cart_and_press_qris, open_cashier, open_display, qr_path
from support.gateways import MIDTRANS_KEY, FakeMidtrans
from support.live import order_id_of, start_server

pytestmark = [pytest.mark.browser, pytest.mark.live]


@pytest.fixture(scope="module")
def gateway():
    fake = FakeMidtrans().start()
    yield fake
    fake.stop()


def midtrans_env(gateway, **extra) -> dict:
    return {"PROVIDER": "midtrans", "MIDTRANS_SERVER_KEY": MIDTRANS_KEY, "MIDTRANS_BASE_URL": gateway.url, **extra}


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway):
    live = start_server(tmp_path_factory, **midtrans_env(gateway))
    yield live
    live.stop()


def test_paid_by_notification_on_both_screens(browser, server, gateway, screenshots):
    cashier, display = open_cashier(browser, server), open_display(browser, server)
    payment_id = fill_cart_and_press_qris(cashier)
    order_id = order_id_of(server, payment_id)
    display.wait_for_selector("[data-mode='qris']")
    assert qr_path(cashier, ".qris-code") == qr_path(display, ".display-qr")
    assert gateway.calls("charge") and gateway.transactions[order_id]["gross_amount"] == "7500.00"
    cashier.screenshot(path=screenshots / "midtrans-cashier-pending.png")

    gateway.settle(order_id)
    response = requests.post(f"{server.url}/webhooks/midtrans", json=gateway.notification(order_id), timeout=10)
    assert response.status_code == 200
    cashier.wait_for_selector("#qris-status[data-status='PAID']")
    display.wait_for_selector("[data-mode='thanks']")
    cashier.screenshot(path=screenshots / "midtrans-cashier-paid.png")
    cashier.wait_for_selector("#modal [data-modal]", state="detached")
    assert cashier.text_content("[data-cart-total]") == "Rp 0"


def test_forged_notification_changes_nothing(browser, server, gateway):
    cashier = open_cashier(browser, server)
    payment_id = fill_cart_and_press_qris(cashier)
    order_id = order_id_of(server, payment_id)
    gateway.settle(order_id)
    forged = gateway.notification(order_id, server_key="SB-Mid-server-attacker-guess")
    assert requests.post(f"{server.url}/webhooks/midtrans", json=forged, timeout=10).status_code == 401
    # Polling alone still finds the real settlement (a shop PC behind NAT gets no notifications at all).
    cashier.wait_for_selector("#qris-status[data-status='PAID']", timeout=10_000)


def test_cancel_cancels_at_midtrans(browser, server, gateway):
    cashier = open_cashier(browser, server)
    order_id = order_id_of(server, fill_cart_and_press_qris(cashier))
    cashier.click("#qris-status button:has-text('Batal')")
    cashier.click("#qris-cancel-ask button:has-text('Ya, Batalkan QR')")
    cashier.wait_for_selector("#qris-status[data-status='CANCELLED']")
    assert gateway.transactions[order_id]["transaction_status"] == "cancel"
    cashier.click("#qris-status button:has-text('Tutup')")
    cashier.keyboard.press("F4")
    cashier.wait_for_selector("[data-cash-form]")


def test_regenerate_cancels_the_old_qr_and_charges_a_new_order_id(browser, server, gateway):
    cashier = open_cashier(browser, server)
    first = fill_cart_and_press_qris(cashier)
    cashier.click("#qris-status button:has-text('Buat QR Baru')")
    cashier.wait_for_selector(f"#qris-status[data-payment]:not([data-payment='{first}'])")
    second = cashier.get_attribute("#qris-status", "data-payment")
    assert gateway.transactions[order_id_of(server, first)]["transaction_status"] == "cancel"
    assert gateway.transactions[order_id_of(server, second)]["transaction_status"] == "pending"


def test_expired_qr_is_expired_at_midtrans_and_can_be_renewed(browser, tmp_path_factory):
    # A gateway of its own: a fresh database numbers its sales from 1 again, and Midtrans never forgets an order id.
    gateway = FakeMidtrans().start()
    short = start_server(tmp_path_factory, **midtrans_env(gateway, EXPIRE_MINUTES="0.1"))
    try:
        cashier = open_cashier(browser, short)
        first = fill_cart_and_press_qris(cashier)
        cashier.wait_for_selector("#qris-status[data-status='EXPIRED']", timeout=15_000)
        assert gateway.transactions[order_id_of(short, first)]["transaction_status"] == "expire"
        cashier.click("#qris-status button:has-text('Buat QR Baru')")
        cashier.wait_for_selector(f"#qris-status[data-payment]:not([data-payment='{first}'])")
    finally:
        short.stop()
        gateway.stop()
