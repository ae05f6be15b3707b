"""The till and the customer display at a kiosk's 1366x768, in Debian's Chromium: what a cashier sees and taps."""
import pytest

from kasir.money import MoneyError, format_rupiah, parse_rupiah
from support.browser import open_cashier_page, scan
from support.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.live]
KIOSK = {"width": 1366, "height": 768}
TOUCH_MINIMUM = 48
CONTROLS = "button, a, input:not([type=hidden]), select, summary, .chip-radio span"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    instance = tmp_path_factory.mktemp("till-live")
    live = LiveServer(instance, {"PRINTER_URL": f"file://{instance / 'receipts.bin'}"}).start()
    yield live
    live.stop()


@pytest.fixture
def cashier(browser, server):
    """The till of register 1 with an empty cart (the tests share the server, and so its cart)."""
    page = open_cashier_page(browser, server.url, KIOSK)
    if page.query_selector(".cart-line"):
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Kosongkan')")
        page.wait_for_selector(".cart-empty")
    yield page
    page.context.close()


def fill_cart(page, count=14):
    for number in range(1, count + 1):
        scan(page, f"SKU{number:04d}")
        page.wait_for_selector(f".cart-line[data-item='SKU{number:04d}'][data-changed]")


def small_controls(page) -> list[str]:
    """Visible controls smaller than a fingertip, as 'tag "text" WxH'."""
    return page.eval_on_selector_all(CONTROLS, f"""(elements) => elements.filter((el) => {{
        const box = el.getBoundingClientRect(), style = getComputedStyle(el);
        if (!box.width || !box.height || style.visibility === "hidden" || style.opacity === "0") return false;
        return box.width < {TOUCH_MINIMUM} - 0.5 || box.height < {TOUCH_MINIMUM} - 0.5;
    }}).map((el) => {{
        const box = el.getBoundingClientRect(), text = el.textContent.trim().slice(0, 30);
        return `${{el.tagName}} "${{text}}" ${{Math.round(box.width)}}x${{Math.round(box.height)}}`;
    }})""")


def fully_visible_lines(page) -> list[str]:
    return page.eval_on_selector(".cart-lines", """(list) => {
        const view = list.getBoundingClientRect();
        return [...list.querySelectorAll(".cart-line")].filter((line) => {
            const box = line.getBoundingClientRect();
            return box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
        }).map((line) => line.dataset.item);
    }""")


def test_the_cart_scrolls_to_and_flashes_the_line_just_scanned(cashier, screenshots):
    fill_cart(cashier)
    visible = fully_visible_lines(cashier)
    assert visible[-1] == "SKU0014" and len(visible) >= 6
    assert "flash" in cashier.get_attribute(".cart-line[data-item='SKU0014']", "class")
    cashier.screenshot(path=screenshots / "till-cart-14-lines.png")
    scan(cashier, "SKU0001")  # one more of the first line: the cart goes back up to it
    cashier.wait_for_selector(".cart-line[data-item='SKU0001'][data-changed] .qty-input[value='2']")
    assert "SKU0001" in fully_visible_lines(cashier)


def test_a_tapped_quantity_can_be_typed_and_a_star_scans_several(cashier):
    scan(cashier, "3*SKU0006")
    cashier.wait_for_selector(".cart-line[data-item='SKU0006'] .qty-input[value='3']")
    cashier.click(".cart-line[data-item='SKU0006'] .qty-input")
    cashier.keyboard.type("12")  # the tap selected the old quantity: typing replaces it
    cashier.keyboard.press("Enter")
    cashier.wait_for_selector(".cart-line[data-item='SKU0006'] .qty-input[value='12']")
    assert cashier.text_content("[data-cart-total]") == "Rp 48.000"
    assert cashier.evaluate("document.activeElement.id") == "scan"


def test_a_name_with_several_matches_asks_to_pick_one_of_them(cashier):
    scan(cashier, "Indomie")
    toast = cashier.wait_for_selector("#toast .toast")
    assert toast.text_content() == "2 produk cocok dengan “Indomie”: pilih salah satu."
    cashier.wait_for_function("document.querySelectorAll('#products .product-tile').length === 2")
    # The text stays, selected: the next scan replaces it instead of running on after it.
    assert cashier.evaluate("[document.activeElement.id, getSelection().toString() || "
                            "document.activeElement.value.slice(document.activeElement.selectionStart,"
                            " document.activeElement.selectionEnd)]") == ["scan", "Indomie"]
    cashier.keyboard.type("SKU0002")
    cashier.keyboard.press("Enter")
    cashier.wait_for_selector(".cart-line[data-item='SKU0002']")


def test_an_error_toast_goes_when_a_modal_or_the_paid_screen_comes(cashier):
    scan(cashier, "SKU0001")
    cashier.wait_for_selector(".cart-line[data-item='SKU0001']")
    scan(cashier, "8990000099999")
    cashier.wait_for_selector("#toast .toast-error")
    cashier.keyboard.press("F4")
    cashier.wait_for_selector("[data-cash-form]")
    assert cashier.query_selector("#toast .toast-error") is None
    cashier.fill("#tendered", "1.000")
    cashier.press("#tendered", "Enter")  # too little: the server says so in a toast
    cashier.wait_for_selector("#toast .toast-error")
    cashier.click(".btn-tender:has-text('Uang Pas')")
    cashier.wait_for_selector("[data-success]")
    assert cashier.query_selector("#toast .toast-error") is None


@pytest.mark.parametrize("typed", ["-50000", "15.000,5", "15.000,50", "15.000,00", "Rp 20.000", "rp.20000",
                                   "20 000", "1.2345", "0", "12,", "abc", "Rp", "1.000.000.000.000"])
def test_the_cash_preview_reads_amounts_as_the_server_does(cashier, typed):
    scan(cashier, "SKU0001")  # Rp 3.500
    cashier.wait_for_selector(".cart-line[data-item='SKU0001']")
    cashier.keyboard.press("F4")
    cashier.fill("#tendered", typed)
    preview = cashier.text_content("[data-change-preview]")
    try:
        tendered = parse_rupiah(typed, allow_zero=False)
    except MoneyError as exc:
        assert preview == str(exc)
    else:
        assert preview == (f"Kembalian {format_rupiah(tendered - 3500)}" if tendered >= 3500
                           else f"Kurang {format_rupiah(3500 - tendered)}")


def test_batal_asks_before_it_cancels_the_qr(cashier, screenshots):
    scan(cashier, "SKU0001")
    cashier.wait_for_selector(".cart-line[data-item='SKU0001']")
    cashier.keyboard.press("F8")
    cashier.wait_for_selector("#qris-status[data-status='PENDING']")
    cashier.click("#qris-status button:has-text('Batal')")
    cashier.wait_for_selector("#qris-cancel-ask:not([hidden])")
    with cashier.expect_response("**/status"):  # a poll swaps the status: the question stays
        pass
    assert cashier.is_visible("#qris-cancel-ask") and "Rp 3.500" in cashier.text_content("#qris-cancel-ask")
    cashier.screenshot(path=screenshots / "till-qris-cancel-ask.png")
    cashier.keyboard.press("Escape")  # "no": the QR stays open
    cashier.wait_for_selector("#qris-cancel-ask", state="hidden")
    assert cashier.get_attribute("#qris-status", "data-status") == "PENDING"
    cashier.click("#qris-status button:has-text('Batal')")
    cashier.click("#qris-cancel-ask button:has-text('Ya, Batalkan QR')")
    cashier.wait_for_selector("#qris-status[data-status='CANCELLED']")
    cashier.wait_for_selector("#qris-cancel-ask", state="hidden")


def test_every_till_control_is_at_least_48_px(cashier, browser, server):
    fill_cart(cashier, 3)
    cashier.click(".cart-line[data-item='SKU0002'] .line-info")  # the line's discount form open
    assert small_controls(cashier) == []
    cashier.keyboard.press("F8")
    cashier.wait_for_selector("#qris-status[data-status='PENDING']")
    assert small_controls(cashier) == []
    cashier.keyboard.press("Escape")
    cashier.keyboard.press("F4")
    cashier.wait_for_selector("[data-cash-form]")
    assert small_controls(cashier) == []
    cashier.click(".btn-tender:has-text('Uang Pas')")
    cashier.wait_for_selector("[data-success]")
    cashier.goto(f"{server.url}/pos/sales")  # today's sales, with reprint, void and refund
    assert small_controls(cashier) == []
    login = browser.new_context(viewport=KIOSK).new_page()
    login.goto(f"{server.url}/login")
    assert small_controls(login) == []
    login.context.close()


def test_the_display_shows_the_latest_lines_and_the_qris_frame(cashier, browser, server, screenshots):
    display = browser.new_context(viewport=KIOSK).new_page()
    display.goto(f"{server.url}/display/1")
    fill_cart(cashier, 12)
    display.wait_for_selector("[data-more]:has-text('+5 barang lainnya')")
    latest = cashier.get_attribute(".cart-line[data-item='SKU0012'] .line-name", "title")
    last = display.wait_for_selector(f".display-lines li:last-child:has-text('{latest}')")
    box = last.bounding_box()
    assert box["y"] + box["height"] <= KIOSK["height"]
    display.screenshot(path=screenshots / "display-cart-12-lines.png")
    cashier.keyboard.press("F8")
    display.wait_for_selector("[data-mode='qris']")
    assert display.text_content("[data-nmid]").startswith("NMID: ID")
    assert display.is_visible(".qris-frame img.qris-mark")
    assert "Sisa waktu" in display.text_content(".countdown")
    for element in (".qris-frame", ".display-total"):
        box = display.query_selector(element).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= KIOSK["height"]
    display.screenshot(path=screenshots / "display-qris-frame.png")
    display.context.close()
