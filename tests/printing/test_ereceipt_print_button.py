"""The public e-receipt (/r/<token>) has a "Simpan/Cetak" button that opens the print dialog (static JS, no inline
script), shown only where JavaScript runs."""
import re

import pytest

from kasir import tenders
from kasir.extensions import db
from kasir.models import Sale


def receipt_token(till) -> str:
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    db.session.commit()
    return db.session.get(Sale, sale.id).receipt_token


def test_the_receipt_page_has_a_hidden_print_button_and_its_static_script(till, app):
    page = app.test_client().get(f"/r/{receipt_token(till)}").get_data(as_text=True)
    assert re.search(r"<button[^>]*data-print-receipt[^>]*hidden[^>]*>Simpan/Cetak</button>", page)
    assert 'src="/static/js/ereceipt.js' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script (CSP)


@pytest.mark.browser
def test_the_print_button_opens_the_print_dialog(browser, served_app, till):
    token = receipt_token(till)
    page = browser.new_context(viewport={"width": 390, "height": 800}).new_page()
    page.add_init_script("window.print = () => { window.printed = (window.printed || 0) + 1; };")
    page.goto(f"{served_app}/r/{token}")
    page.click("button:has-text('Simpan/Cetak')")
    assert page.evaluate("window.printed") == 1
    page.context.close()
