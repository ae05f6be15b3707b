""""Retur" back to QRIS in Debian's Chromium with the mock gateway, and the till's cart header on one line."""
import pytest

from support.browser import fill_cart_and_press_qris, open_cashier_page, open_simulator, scan
from support.databases import query_database
from support.live import order_id_of

pytestmark = [pytest.mark.browser, pytest.mark.live]

ONE_ROW = """el => {
  const boxes = [...el.children].map((child) => child.getBoundingClientRect()).filter((box) => box.height > 0);
  const middles = boxes.map((box) => box.top + box.height / 2);
  const title = el.querySelector('h2');
  const lineHeight = parseFloat(getComputedStyle(title).lineHeight);
  return {spread: Math.max(...middles) - Math.min(...middles), cut: title.scrollWidth > title.clientWidth,
          titleLines: Math.round(title.getBoundingClientRect().height / lineHeight)};
}"""


def cashier_at(browser, live_server, width, height):
    return open_cashier_page(browser, live_server.url, {"width": width, "height": height})


def test_a_qris_sale_is_returned_back_to_qris_with_a_supervisors_pin(browser, live_server, screenshots):
    page = cashier_at(browser, live_server, 1366, 768)
    payment_id = fill_cart_and_press_qris(page)
    simulator = open_simulator(browser, live_server)
    simulator.click(f"tr[data-order='{order_id_of(live_server, payment_id)}'] button:has-text('Bayar')")
    page.wait_for_selector("#qris-status[data-status='PAID']")
    page.goto(f"{live_server.url}/pos/sales")
    page.click("button:has-text('Retur') >> nth=0")
    page.wait_for_selector("[data-return-item='SKU0006']")
    assert page.is_checked("[data-return-qris]")  # paid by QRIS alone: back to QRIS by default
    page.click("[data-return-item='SKU0006'] [data-step='1']")
    page.click("[data-return-item='SKU0006'] [data-step='1']")  # no more than was bought
    assert page.input_value("[data-return-item='SKU0006'] input") == "1"
    page.screenshot(path=screenshots / "refund-return-modal.png")
    page.click("button:has-text('Catat Retur')")
    page.wait_for_selector("[data-approval-form]")
    # the simulator's first admin login changed the password (support.browser.open_simulator)
    page.fill("#approver-secret", getattr(live_server, "current_admin_password", live_server.admin_password))
    page.click("[data-approval-form] button[type=submit]")
    page.wait_for_selector("text=Dikembalikan ke QRIS Rp 4.000")
    page.wait_for_selector("[data-return-slip]")
    page.screenshot(path=screenshots / "refund-return-done.png")
    [(method, amount, qris_amount)] = query_database(
        live_server.database_url, "SELECT method, amount, qris_amount FROM sale_returns")
    assert (method, amount, qris_amount) == ("QRIS", 4000, 4000)
    page.context.close()
    simulator.context.close()


@pytest.mark.parametrize("width, height", [(1280, 800), (1366, 768)])
def test_the_cart_header_stays_one_line(browser, live_server, screenshots, width, height):
    page = cashier_at(browser, live_server, width, height)
    scan(page, "SKU0006")
    page.wait_for_selector(".cart-line[data-item='SKU0006']")
    page.click("[data-hold]")  # a parked bill: "Tersimpan (n)" (the live server may hold others' too)
    page.wait_for_selector(".cart-line[data-item='SKU0006']", state="detached")
    page.wait_for_selector("[data-held-list]:has-text(')')")
    scan(page, "SKU0001")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    page.wait_for_selector(".product-tile >> nth=30")  # the grid reset after the scan has landed too
    layout = page.eval_on_selector(".cart-head", ONE_ROW)
    page.screenshot(path=screenshots / f"refund-cart-header-{width}.png", clip=page.locator(".cart").bounding_box())
    assert layout["titleLines"] == 1 and layout["spread"] < 8 and not layout["cut"]
    page.context.close()
