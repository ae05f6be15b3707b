"""Held bills in Debian's Chromium against a real server: park two carts, reload, list them, resume one."""
import shutil
from pathlib import Path

import pytest

from support.browser import open_cashier_page, scan

pytestmark = [pytest.mark.browser, pytest.mark.live]
BRIEF_SHOTS = Path("/work/brief/shots")


@pytest.fixture
def cashier_page(browser, live_server):
    page = open_cashier_page(browser, live_server.url, {"width": 1366, "height": 768})
    yield page
    page.context.close()


def park(page, *codes):
    for code in codes:
        scan(page, code)
        page.wait_for_selector(f".cart-line[data-item='{code}']")
    page.click("[data-hold]")
    page.wait_for_selector(".cart-line", state="detached")


def test_parked_carts_survive_a_reload_and_one_is_resumed(cashier_page, screenshots):
    page = cashier_page
    before = held_count(page)  # the live server is shared: count from what is parked already
    park(page, "SKU0001", "SKU0006")
    park(page, "SKU0006")
    page.reload()
    assert held_count(page) == before + 2
    page.click("[data-held-list]")
    page.wait_for_selector("#modal tr[data-held]")
    assert page.locator("#modal tr[data-held]").count() == before + 2
    page.screenshot(path=screenshots / "pos-held-bills.png")
    if BRIEF_SHOTS.is_dir():
        shutil.copy(screenshots / "pos-held-bills.png", BRIEF_SHOTS / "returns-held.png")

    page.locator("#modal tr[data-held]").nth(before).locator("button").click()
    page.wait_for_selector("#modal [data-modal]", state="detached")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    assert page.text_content("[data-cart-total]") == "Rp 7.500"
    assert held_count(page) == before + 1


def held_count(page) -> int:
    label = page.text_content("[data-held-list]").strip()  # "Tersimpan" or "Tersimpan (3)"
    return int(label.partition("(")[2].rstrip(")") or 0)


def test_a_double_tap_on_simpan_parks_the_cart_once(cashier_page):
    page = cashier_page  # the live server is shared: count from what is parked already
    before = held_count(page)
    scan(page, "SKU0001")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    page.dblclick("[data-hold]")
    page.wait_for_selector(".cart-line", state="detached")
    page.reload()
    assert held_count(page) == before + 1
