"""The QRIS cashier flow with PROVIDER=doku (BI SNAP), against a loopback SNAP fake, ending PAID on both screens."""
import json

import pytest
import requests
from pytest_httpserver import HTTPServer

from kasir.payments.providers.snap import snap_timestamp
from support.browser import fill_cart_and_press_qris, open_cashier, open_display, qr_path
from support.live import order_id_of, start_server
from support.snap_fake import SnapFake, hmac_of, rsa_pair, rsa_signature

pytestmark = [pytest.mark.browser, pytest.mark.live]
CLIENT_ID, SECRET = "BRN-0201-1700000000000", "SK-doku-test-secret-0123456789"
SHOT = "/work/brief/shots/snap-doku-qr.png"


@pytest.fixture(scope="module")
def keys():
    return {"merchant": rsa_pair(), "doku": rsa_pair()}


@pytest.fixture(scope="module")
def gateway(keys):
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    fake = SnapFake(server, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=keys["merchant"][1], base_path="",
                    token_path="/authorization/v1/access-token/b2b", qr_prefix="/snap-adapter/b2b",
                    channel_id="H2H", cancel_path="/v1.0/qr/qr-mpm-cancel")
    yield fake
    server.clear()
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway, keys):
    folder = tmp_path_factory.mktemp("doku-keys")
    (folder / "ours.pem").write_text(keys["merchant"][0])
    (folder / "doku.pem").write_text(keys["doku"][1])
    live = start_server(tmp_path_factory, PROVIDER="doku", DOKU_CLIENT_ID=CLIENT_ID, DOKU_SECRET_KEY=SECRET,
                        DOKU_PRIVATE_KEY_FILE=str(folder / "ours.pem"), DOKU_PUBLIC_KEY_FILE=str(folder / "doku.pem"),
                        DOKU_MERCHANT_ID="MALL01", DOKU_TERMINAL_ID="TERM01", DOKU_BASE_URL=gateway.url)
    yield live
    live.stop()


def test_doku_qris_paid_by_notification_on_both_screens(browser, server, gateway, keys):
    cashier, display = open_cashier(browser, server), open_display(browser, server)
    payment_id = fill_cart_and_press_qris(cashier)
    order_id = order_id_of(server, payment_id)
    display.wait_for_selector("[data-mode='qris']")
    assert qr_path(cashier, ".qris-code") == qr_path(display, ".display-qr")
    assert gateway.transactions[order_id]["amount"] == {"value": "7500.00", "currency": "IDR"}
    assert gateway.rejections == []
    cashier.screenshot(path=SHOT)

    timestamp = snap_timestamp()
    token = requests.post(f"{server.url}/webhooks/doku/access-token/b2b", json={"grantType": "client_credentials"},
                          headers={"X-CLIENT-KEY": CLIENT_ID, "X-TIMESTAMP": timestamp,
                                   "X-SIGNATURE": rsa_signature(keys["doku"][2], f"{CLIENT_ID}|{timestamp}")},
                          timeout=10).json()["accessToken"]
    gateway.pay(order_id)
    body = json.dumps({"originalPartnerReferenceNo": order_id, "latestTransactionStatus": "00",
                       "originalReferenceNo": gateway.transactions[order_id]["referenceNo"]}).encode()
    response = requests.post(f"{server.url}/webhooks/doku", data=body, timeout=10, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}", "X-TIMESTAMP": timestamp,
        "X-SIGNATURE": hmac_of(SECRET, "POST", "/webhooks/doku", token, body, timestamp)})
    assert response.status_code == 200
    cashier.wait_for_selector("#qris-status[data-status='PAID']")
    display.wait_for_selector("[data-mode='thanks']")
    cashier.wait_for_selector("#modal [data-modal]", state="detached")
    assert cashier.text_content("[data-cart-total]") == "Rp 0"
