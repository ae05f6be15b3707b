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
