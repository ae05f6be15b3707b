"""Admin › Impor CSV in Debian's Chromium: a big file shows its progress bar while the job works, then the result,
and the page stops polling."""
import shutil
import threading
from pathlib import Path

import pytest

from kasir import product_imports

pytestmark = pytest.mark.browser

BRIEF_SHOTS = Path("/work/brief/shots")
WAIT_SECONDS = 30  # a bound on waiting for the other thread, never a measured time
ROWS = 5000


def keep(shot: Path, name: str) -> None:
    if BRIEF_SHOTS.is_dir():
        shutil.copy(shot, BRIEF_SHOTS / name)


def catalogue_file(folder: Path) -> Path:
    path = folder / "katalog-minimarket.csv"
    path.write_text("sku,barcode,name,category,price,stock,active\n" + "".join(
        f"MM-{n:05d},{8970000000000 + n},Produk Minimarket {n},Sembako,{1000 + n},10,1\n" for n in range(ROWS)))
    return path


def test_a_big_import_shows_its_progress_then_the_result(admin_page, served_app, screenshots, app, tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(product_imports, "BATCH_ROWS", 1000)
    mid_way, seen = threading.Event(), threading.Event()
    original = product_imports._batch

    def pause_after_two_batches(import_id, done, *args):
        result = original(import_id, done, *args)
        if done == 1000:
            mid_way.set()
            seen.wait(WAIT_SECONDS)
        return result

    monkeypatch.setattr(product_imports, "_batch", pause_after_two_batches)
    page = admin_page
    page.goto(f"{served_app}/admin/products/import")
    page.set_input_files("#file", str(catalogue_file(tmp_path)))
    page.click("button:has-text('Impor')")
    page.wait_for_selector("text=Mengimpor 0 dari 5.000 baris…")

    def job():
        with app.app_context():
            product_imports.run_due()

    worker = threading.Thread(target=job)
    worker.start()
    try:
        assert mid_way.wait(WAIT_SECONDS)
        page.wait_for_selector("text=Mengimpor 2.000 dari 5.000 baris…")  # the bar moved by itself (htmx poll)
        assert page.locator("#import-progress progress").get_attribute("value") == "2000"
        shot = screenshots / "import-progress.png"
        page.screenshot(path=shot, full_page=True)
        keep(shot, "import-progress.png")
    finally:
        seen.set()
        worker.join(WAIT_SECONDS)
    page.wait_for_selector("text=Impor selesai")
    assert "5.000 produk baru" in page.locator("#import-progress").inner_text()
    assert page.locator("#import-progress").get_attribute("hx-trigger") is None  # polling has stopped
    shot = screenshots / "import-result.png"
    page.screenshot(path=shot, full_page=True)
    keep(shot, "import-result.png")
