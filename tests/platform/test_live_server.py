"""`python -m kasir serve` for real: waitress on a loopback port, demo data, CSRF on, plain HTTP requests."""
import http.client
import re
import stat

import pytest
import requests

from support.live import TIMEOUT, csrf_from_form, csrf_from_hx_headers, htmx_headers

pytestmark = pytest.mark.live


@pytest.fixture
def cashier(live_server):
    """A browser-like session logged in as the demo cashier on register 1; returns (session, csrf token)."""
    session = requests.Session()
    login_page = session.get(f"{live_server.url}/login", timeout=TIMEOUT)
    assert login_page.status_code == 200
    response = session.post(f"{live_server.url}/login", timeout=TIMEOUT, data={
        "csrf_token": csrf_from_form(login_page.text), "mode": "pin", "username": "kasir", "pin": "1234"})
    assert response.url == f"{live_server.url}/pos/register"
    response = session.post(f"{live_server.url}/pos/register", timeout=TIMEOUT,
                            data={"csrf_token": csrf_from_form(response.text), "register": "1"})
    assert response.url == f"{live_server.url}/pos"
    yield session, csrf_from_hx_headers(response.text)
    session.close()


def test_server_prints_where_to_open_the_till(live_server):
    log = (live_server.instance / "server.log").read_text()
    assert f"http://127.0.0.1:{live_server.port}/pos" in log
    assert f"http://127.0.0.1:{live_server.port}/admin" in log
    assert f"http://127.0.0.1:{live_server.port}/display/1" in log


def test_server_logs_each_request_with_its_request_id(live_server):
    # The migrations that `serve` runs first must not replace the app's log handler.
    response = requests.get(f"{live_server.url}/login", headers={"X-Request-Id": "live-log-check-1"}, timeout=TIMEOUT)
    assert response.headers["X-Request-Id"] == "live-log-check-1"
    log = (live_server.instance / "server.log").read_text()
    assert "[live-log-check-1] GET /login 200" in log


def test_instance_folder_gets_a_private_secret_key(live_server):
    secret = live_server.instance / "secret_key"
    assert secret.exists()
    assert len(secret.read_text().strip()) >= 32
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_demo_cashier_scans_two_products_and_pays_cash(live_server, cashier):
    session, token = cashier
    for code in ("SKU0001", "SKU0006"):  # Indomie Goreng 3.500 + Aqua 600 ml 4.000
        response = session.post(f"{live_server.url}/pos/cart/scan", data={"q": code}, headers=htmx_headers(token),
                                timeout=TIMEOUT)
        assert response.status_code == 200, response.text
    assert re.search(r"data-cart-total>\s*Rp 7\.500\s*<", response.text)

    panel = session.get(f"{live_server.url}/pos/pay/cash", headers=htmx_headers(token), timeout=TIMEOUT)
    sale_id = re.search(r'name="sale_id" value="(\d+)"', panel.text).group(1)
    paid = session.post(f"{live_server.url}/pos/checkout/cash", data={"sale_id": sale_id, "tendered": "20.000"},
                        headers=htmx_headers(token), timeout=TIMEOUT)
    assert paid.status_code == 200, paid.text
    assert re.search(r"data-change>\s*Rp 12\.500\s*<", paid.text)

    receipt = session.get(f"{live_server.url}/receipts/{sale_id}", timeout=TIMEOUT)
    assert receipt.status_code == 200
    assert "TOTAL" in receipt.text


def test_htmx_post_without_the_csrf_header_is_refused(live_server, cashier):
    session, _token = cashier
    response = session.post(f"{live_server.url}/pos/cart/scan", data={"q": "SKU0001"},
                            headers={"HX-Request": "true"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#toast"


def test_demo_admin_must_change_the_printed_password_first(live_server):
    assert live_server.admin_password, "demo-data printed no admin password"
    session = requests.Session()
    login_page = session.get(f"{live_server.url}/login", timeout=TIMEOUT)
    response = session.post(f"{live_server.url}/login", allow_redirects=False, timeout=TIMEOUT, data={
        "csrf_token": csrf_from_form(login_page.text), "mode": "password", "username": "admin",
        "password": live_server.admin_password})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/password"
    admin_page = session.get(f"{live_server.url}/admin", allow_redirects=False, timeout=TIMEOUT)
    assert admin_page.headers["Location"] == "/account/password"
    session.close()


def test_security_headers_are_sent(live_server):
    response = requests.get(f"{live_server.url}/login", timeout=TIMEOUT)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_an_unchanged_till_poll_keeps_its_keep_alive_connection(live_server, cashier):
    session, _token = cashier
    headers = {"HX-Request": "true", "Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies)}
    bar = session.get(f"{live_server.url}/pos/money", headers=headers, timeout=TIMEOUT).text
    poll = re.search(r'hx-get="([^"]+)"', bar).group(1).replace("&amp;", "&")  # the money bar's own, with its ?v=
    connection = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=TIMEOUT)
    try:
        for _ in range(3):
            connection.request("GET", poll, headers=headers)
            answer = connection.getresponse()
            assert (answer.status, answer.getheader("HX-Reswap"), answer.read()) == (200, "none", b"")
            assert not answer.will_close  # waitress closes after a 204 (kasir.web.nothing_new)
    finally:
        connection.close()
