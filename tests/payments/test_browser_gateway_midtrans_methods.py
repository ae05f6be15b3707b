"""A VA and a payment link at the till with PROVIDER=midtrans (loopback fake), ending PAID on both screens."""
from pathlib import Path

import pytest
import requests

from support.browser import open_cashier, open_display
from support.gateways import MIDTRANS_KEY, FakeMidtrans
from support.live import order_id_of, start_server

pytestmark = [pytest.mark.browser, pytest.mark.live]
SHOTS = Path("/work/brief/shots")


@pytest.fixture(scope="module")
def gateway():
    fake = FakeMidtrans().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway):
    live = start_server(tmp_path_factory, PROVIDER="midtrans", MIDTRANS_SERVER_KEY=MIDTRANS_KEY,
                        MIDTRANS_BASE_URL=gateway.url, MIDTRANS_SNAP_BASE_URL=gateway.url)
    yield live
    live.stop()


def fill_cart(page):
    for code in ("SKU0001", "SKU0006"):
        page.fill("#scan", code)
        page.press("#scan", "Enter")
        page.wait_for_selector(f".cart-line[data-item='{code}']")
    page.wait_for_selector(".product-tile >> nth=30")


def shot(page, name):
    if SHOTS.is_dir():
        page.screenshot(path=SHOTS / name)


def notify_paid(server, gateway, order_id):
    gateway.settle(order_id)
    response = requests.post(f"{server.url}/webhooks/midtrans", json=gateway.notification(order_id), timeout=10)
    assert response.status_code == 200


def test_a_bca_va_is_paid_on_both_screens(browser, server, gateway):
    cashier, display = open_cashier(browser, server), open_display(browser, server)
    fill_cart(cashier)
    cashier.click("button[data-pay-other]")
    cashier.click("button.btn-va[value='bca']")
    cashier.wait_for_selector("#qris-status[data-status='PENDING']")
    order_id = order_id_of(server, cashier.get_attribute("#qris-status", "data-payment"))
    display.wait_for_selector("[data-method='va'] [data-va-number]")
    assert gateway.transactions[order_id]["payment_type"] == "bank_transfer"
    assert display.text_content("[data-va-bank]").strip() == "Transfer ke VA BCA"
    assert cashier.text_content("[data-va-number]").replace(" ", "") == \
        display.text_content("[data-va-number]").replace(" ", "")
    shot(cashier, "methods-va-till.png")
    shot(display, "methods-va-display.png")

    notify_paid(server, gateway, order_id)
    cashier.wait_for_selector("#qris-status[data-status='PAID']")
    display.wait_for_selector("[data-mode='thanks']")


def test_a_link_is_paid_on_both_screens_after_the_customer_picks_a_method(browser, server, gateway):
    cashier, display = open_cashier(browser, server), open_display(browser, server)
    fill_cart(cashier)
    cashier.click("button[data-pay-other]")
    cashier.click("button.btn-link")
    cashier.wait_for_selector("#qris-status[data-status='PENDING']")
    order_id = order_id_of(server, cashier.get_attribute("#qris-status", "data-payment"))
    display.wait_for_selector("[data-method='link'] [data-payment-url] svg")
    assert order_id in gateway.snap_orders
    shot(display, "methods-link-display.png")

    gateway.pick(order_id, "bni")
    notify_paid(server, gateway, order_id)
    cashier.wait_for_selector("#qris-status[data-status='PAID']")
    display.wait_for_selector("[data-mode='thanks']")
