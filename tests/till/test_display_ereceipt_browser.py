"""The customer display's "Terima kasih" with the e-receipt QR, in Debian's Chromium against a served app."""
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from kasir import tenders
from kasir.clock import utcnow
from kasir.extensions import db
from kasir.models import Sale
from kasir.printing.ereceipt import PUBLIC_URL_KEY
from kasir.sales import touch_display
from kasir.settings import set_setting

pytestmark = [pytest.mark.browser]

BRIEF_SHOTS = Path("/work/brief/shots")


def test_the_display_shows_the_ereceipt_qr_after_a_paid_sale(browser, served_app, till, screenshots):
    set_setting(PUBLIC_URL_KEY, "https://toko.example.id")
    sale = tenders.pay_cash(till.add("SKU0001", "SKU0006").id, "20000")
    touch_display(sale.register_id, display_thanks_until=utcnow() + timedelta(minutes=5))  # a slow CI keeps it up
    db.session.commit()
    token = db.session.get(Sale, sale.id).receipt_token
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{served_app}/display/1")
    page.wait_for_selector("[data-mode='thanks'] [data-ereceipt-url] svg")
    assert page.get_attribute("[data-ereceipt-url]", "data-ereceipt-url") == f"https://toko.example.id/r/{token}"
    assert page.text_content(".display-ereceipt figcaption") == "Pindai untuk struk digital"
    page.screenshot(path=screenshots / "display-ereceipt.png")
    if BRIEF_SHOTS.is_dir():
        shutil.copy(screenshots / "display-ereceipt.png", BRIEF_SHOTS / "ereceipt-display.png")
    page.context.close()
