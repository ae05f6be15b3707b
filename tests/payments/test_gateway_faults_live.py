"""Gateway outages against a real server (PROVIDER=midtrans, loopback fake Midtrans, short gateway timeouts).

For each kind of outage — answers too slow, no answer, connection reset, 5xx — the till says why QRIS
failed in Indonesian and never hangs, cash sales go on, and once the gateway is back the payments converge:
nothing is charged twice, a QR paid during the outage becomes PAID exactly once, nothing stays PENDING.
"""
import re
import time

import pytest
import requests

from support.browser import open_cashier_page, pay_cash
from support.databases import query_database
from support.gateways import MIDTRANS_KEY, FakeMidtrans
from support.live import BASKET, TIMEOUT, LiveServer, htmx_headers, log_in_cashier

pytestmark = pytest.mark.live

READ_TIMEOUT = 1  # the server's GATEWAY_READ_TIMEOUT; the fake's slow/hang outages last longer
OUTAGE_SECONDS = 2.5
OUTAGES = {
    "slow": "Midtrans tidak menjawab dalam 1 detik.",
    "hang": "Midtrans tidak menjawab dalam 1 detik.",
    "reset": "Midtrans tidak dapat dihubungi (koneksi gagal).",
    "503": "Midtrans sedang bermasalah (kode 503). Coba lagi.",
}


@pytest.fixture(scope="module")
def gateway():
    fake = FakeMidtrans().start()
    yield fake
    fake.stop()


def midtrans_env(gateway) -> dict:
    return {"PROVIDER": "midtrans", "MIDTRANS_SERVER_KEY": MIDTRANS_KEY, "MIDTRANS_BASE_URL": gateway.url,
            "GATEWAY_CONNECT_TIMEOUT": "0.5", "GATEWAY_READ_TIMEOUT": str(READ_TIMEOUT)}


@pytest.fixture(scope="module")
def server(tmp_path_factory, gateway):
    instance = tmp_path_factory.mktemp("gateway-faults")
    live = LiveServer(instance, {**midtrans_env(gateway), "PRINTER_URL": f"file://{instance / 'receipts.bin'}"})
    yield live.start()
    live.stop()


@pytest.fixture(autouse=True)
def gateway_recovers(gateway):
    yield
    gateway.recover()


@pytest.fixture
def till(server):
    session, token = log_in_cashier(server.url)
    yield Till(server.url, session, token)
    session.close()


class Till:
    """The cashier screen's requests, as htmx sends them."""

    def __init__(self, url: str, session: requests.Session, token: str):
        self.url, self.session, self.token = url, session, token

    def post(self, path: str, **data) -> requests.Response:
        return self.session.post(f"{self.url}{path}", data=data, headers=htmx_headers(self.token), timeout=TIMEOUT)

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", headers=htmx_headers(self.token), timeout=TIMEOUT)

    def empty_cart(self) -> None:
        """A QR an earlier test left open locks the cart: cancel it (the gateway is asked), then clear."""
        self.post("/pos/money/cancel-qr")
        self.post("/pos/cart/clear")

    def scan_basket(self) -> str:
        self.empty_cart()
        for code in BASKET:
            cart = self.post("/pos/cart/scan", q=code).text
        return cart

    def press_qris(self) -> requests.Response:
        return self.post("/pos/checkout/qris")

    def pay_cash(self, tendered: str = "10.000") -> requests.Response:
        panel = self.get("/pos/pay/cash")
        sale_id = re.search(r'name="sale_id" value="(\d+)"', panel.text).group(1)
        return self.post("/pos/checkout/cash", sale_id=sale_id, tendered=tendered)


def payment_of(modal: str) -> str:
    return re.search(r'data-payment="([^"]+)"', modal).group(1)


def sale_payments(server, payment_id: str) -> list:
    return query_database(server.database_url, "SELECT order_id, status, error FROM payments WHERE sale_id = "
                        "(SELECT sale_id FROM payments WHERE id = :id) ORDER BY attempt", id=payment_id)


def qris_offered(cart_html: str) -> bool:
    button = cart_html.split('class="btn btn-pay btn-qris"', 1)[1].split(">", 1)[0]
    return re.search(r"\sdisabled(\s|$)", button) is None  # not hx-disabled-elt


def wait_until(condition, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.3)
    return result


def wait_for_gateway_health(server):
    """Earlier tests' outages are over once the health job has seen the gateway answer again."""
    wait_until(lambda: requests.get(f"{server.url}/healthz", timeout=TIMEOUT).json()["provider"]["reachable"])


@pytest.mark.parametrize("outage", OUTAGES)
def test_qris_during_an_outage_fails_at_once_with_the_reason_and_charges_once(server, gateway, till, outage):
    till.scan_basket()
    gateway.go_down(outage, seconds=OUTAGE_SECONDS)
    answer = till.press_qris()
    assert answer.status_code == 422 and answer.headers["HX-Retarget"] == "#toast"
    assert OUTAGES[outage] in answer.text
    [(order_id, status, error)] = query_database(server.database_url, "SELECT order_id, status, error FROM payments "
                                               "ORDER BY created_at DESC LIMIT 1")
    assert status == "FAILED" and error == OUTAGES[outage]
    # No blind retry: after a charge without an answer only status calls may follow, and they failed too.
    assert len([call for call in gateway.calls("charge") if order_id in call["body"]]) == 1


@pytest.mark.parametrize("outage", OUTAGES)
def test_cash_sale_with_a_qr_open_completes_during_an_outage(server, gateway, till, outage):
    till.scan_basket()
    payment_id = payment_of(till.press_qris().text)
    gateway.go_down(outage, seconds=OUTAGE_SECONDS)
    paid = till.pay_cash()
    assert paid.status_code == 200 and re.search(r"data-change>\s*Rp 2\.500\s*<", paid.text), paid.text
    [(status, error)] = query_database(server.database_url, "SELECT status, error FROM payments WHERE id = :id",
                                       id=payment_id)
    assert status == "CANCELLED" and error.startswith("provider unreachable: Midtrans")


def test_a_qr_cancelled_during_an_outage_is_cancelled_at_the_gateway_after_recovery(server, gateway, till):
    till.scan_basket()
    payment_id = payment_of(till.press_qris().text)
    [(order_id,)] = query_database(server.database_url, "SELECT order_id FROM payments WHERE id = :id", id=payment_id)
    gateway.go_down("reset")
    assert till.pay_cash().status_code == 200
    assert gateway.transactions[order_id]["transaction_status"] == "pending"  # the customer could still pay it
    gateway.recover()
    wait_until(lambda: gateway.transactions[order_id]["transaction_status"] == "cancel")
    assert query_database(server.database_url, "SELECT status FROM payments WHERE id = :id",
                          id=payment_id) == [("CANCELLED",)]


def test_a_failed_charge_turns_qris_off_until_the_gateway_answers_again(server, gateway, till):
    wait_for_gateway_health(server)
    assert qris_offered(till.scan_basket())
    gateway.go_down("reset")
    assert till.press_qris().status_code == 422
    cart = till.post("/pos/cart/scan", q="SKU0002").text
    assert not qris_offered(cart)
    assert "QRIS tidak tersedia: Midtrans tidak dapat dihubungi (koneksi gagal)." in cart
    assert "Tunai" in cart and till.pay_cash("20.000").status_code == 200
    gateway.recover()
    till.scan_basket()
    wait_until(lambda: qris_offered(till.get("/pos/cart").text))  # the job re-probes every 5 s while down
    assert "data-payment" in till.press_qris().text


def test_a_qr_paid_while_status_sync_failed_becomes_paid_once_after_recovery(server, gateway, till):
    till.scan_basket()
    payment_id = payment_of(till.press_qris().text)
    [(order_id,)] = query_database(server.database_url, "SELECT order_id FROM payments WHERE id = :id", id=payment_id)
    gateway.go_down("503", "status")
    gateway.settle(order_id)  # the customer paid; no notification reaches a shop PC behind NAT
    failed_syncs = len(gateway.calls("status"))
    wait_until(lambda: len(gateway.calls("status")) >= failed_syncs + 2)  # the sync job tried, and got 503s
    assert not qris_offered(till.get("/pos/cart").text)  # the job noticed
    assert query_database(server.database_url, "SELECT status FROM payments WHERE id = :id",
                          id=payment_id) == [("PENDING",)]
    gateway.recover()
    wait_until(lambda: query_database(server.database_url, "SELECT status FROM payments WHERE id = :id",
                                      id=payment_id) == [("PAID",)])
    time.sleep(1.5)  # a few more sync and health turns: nothing may apply it twice
    assert query_database(server.database_url,
                          "SELECT count(*) FROM payment_logs WHERE payment_id = :id AND to_status = 'PAID'",
                id=payment_id) == [(1,)]
    assert query_database(server.database_url,
                          "SELECT status, method FROM sales WHERE id = (SELECT sale_id FROM payments WHERE id = :id)",
                id=payment_id) == [("PAID", "QRIS")]


def test_a_charge_done_too_late_at_the_gateway_leaves_no_pending_payment(server, gateway, till):
    till.scan_basket()
    gateway.go_down("slow", seconds=OUTAGE_SECONDS)  # the gateway makes the QR, but after we gave up
    assert till.press_qris().status_code == 422
    [(order_id, status, _error)] = query_database(server.database_url, "SELECT order_id, status, error FROM payments "
                                                "ORDER BY created_at DESC LIMIT 1")
    wait_until(lambda: order_id in gateway.transactions, OUTAGE_SECONDS * 3)
    gateway.recover()
    modal = till.press_qris().text  # the cashier tries again: a new order id, never the lost one
    fresh = payment_of(modal)
    attempts = sale_payments(server, fresh)
    assert [(row[0] == order_id, row[1]) for row in attempts] == [(True, "FAILED"), (False, "PENDING")]
    assert len([call for call in gateway.calls("charge") if order_id in call["body"]]) == 1
    time.sleep(2)  # sync and expiry turns: the lost charge stays FAILED, the new QR stays the only open one
    assert [row[1] for row in sale_payments(server, fresh)] == ["FAILED", "PENDING"]


def scan_in_browser(page, *codes):
    for code in codes:
        page.fill("#scan", code)
        page.press("#scan", "Enter")
        page.wait_for_selector(f".cart-line[data-item='{code}']")


@pytest.mark.browser
def test_cashier_screen_during_an_outage_explains_and_sells_for_cash(browser, server, gateway, till, screenshots):
    wait_for_gateway_health(server)
    till.empty_cart()
    page = open_cashier_page(browser, server.url)
    scan_in_browser(page, "SKU0001")  # an amount no earlier QR of this sale had, so nothing can be reused
    gateway.go_down("hang", seconds=OUTAGE_SECONDS)
    page.keyboard.press("F8")
    toast = page.wait_for_selector("#toast .toast-error")
    assert toast.text_content() == OUTAGES["hang"]
    assert page.query_selector("#modal [data-modal]") is None  # no QR modal for a charge that failed
    page.screenshot(path=screenshots / "gateway-outage-qris-toast.png")
    scan_in_browser(page, "SKU0002")
    assert page.is_disabled(".btn-qris")
    assert page.text_content(".qris-unavailable") == "QRIS tidak tersedia: " + OUTAGES["hang"]
    page.screenshot(path=screenshots / "gateway-outage-qris-off.png")
    pay_cash(page, "20.000")
    assert page.text_content("[data-change]") == "Rp 13.200"
    page.context.close()


@pytest.mark.browser
def test_qr_on_screen_paid_while_status_calls_failed_turns_paid_after_recovery(browser, server, gateway, till,
                                                                              screenshots):
    wait_for_gateway_health(server)
    till.empty_cart()
    page = open_cashier_page(browser, server.url)
    scan_in_browser(page, *BASKET)
    page.keyboard.press("F8")
    payment_id = page.wait_for_selector("#qris-status[data-status='PENDING']").get_attribute("data-payment")
    [(order_id,)] = query_database(server.database_url, "SELECT order_id FROM payments WHERE id = :id", id=payment_id)
    gateway.go_down("503", "status")
    gateway.settle(order_id)
    page.click("#qris-status button:has-text('Cek Status')")
    toast = page.wait_for_selector("#toast .toast-error")
    assert toast.text_content() == "Cek status gagal: " + OUTAGES["503"]
    assert page.get_attribute("#qris-status", "data-status") == "PENDING"
    assert page.is_hidden("[data-conn-banner]")  # our server answers; only the gateway is down
    page.screenshot(path=screenshots / "gateway-outage-check-failed.png")
    gateway.recover()
    page.wait_for_selector("#qris-status[data-status='PAID']", timeout=15_000)
    page.screenshot(path=screenshots / "gateway-recovered-paid.png")
    assert query_database(server.database_url,
                          "SELECT count(*) FROM payment_logs WHERE payment_id = :id AND to_status = 'PAID'",
                id=payment_id) == [(1,)]
    page.context.close()
