"""Stock pages in Debian's Chromium: a threshold set from the product's stock page lists it as Stok Menipis."""
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BRIEF_SHOTS = Path("/work/brief/shots")


def keep(shot: Path, name: str) -> None:
    if BRIEF_SHOTS.is_dir():
        shutil.copy(shot, BRIEF_SHOTS / name)


def set_threshold(page, served_app, search: str, threshold: str) -> None:
    page.goto(f"{served_app}/admin/products?q={search}")
    page.click("text=Stok >> nth=-1")
    page.fill("#low_stock_threshold", threshold)
    page.click("text=Simpan batas")
    page.wait_for_selector("text=Batas stok menipis disimpan.")


def test_products_at_their_threshold_are_listed_as_stok_menipis(admin_page, served_app, screenshots):
    page = admin_page
    set_threshold(page, served_app, "Aqua", "100")
    set_threshold(page, served_app, "Indomie", "150")
    page.goto(f"{served_app}/admin/stock/low")
    assert page.locator("[data-low-stock]").count() >= 2
    shot = screenshots / "stock-low.png"
    page.screenshot(path=shot, full_page=True)
    keep(shot, "stock-low.png")


def test_the_a4_label_sheet_shows_chosen_products_with_barcodes(admin_page, served_app, screenshots):
    page = admin_page
    page.goto(f"{served_app}/admin/labels")
    for box in page.locator("input[name=product]").all()[:9]:
        box.check()
    with page.expect_popup() as popup:
        page.click("text=Lembar label A4")
    sheet = popup.value
    sheet.wait_for_load_state()
    assert sheet.locator(".label svg").count() == 9
    shot = screenshots / "stock-labels.png"
    sheet.screenshot(path=shot, full_page=True)
    keep(shot, "stock-labels.png")
