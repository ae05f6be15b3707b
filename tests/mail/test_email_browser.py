"""Kirim via Email in Debian's Chromium: the cashier pays, types the customer's address on the paid screen and
reads that the receipt is on its way; admin's Struk Digital page with the SMTP form and a failed mail."""
import shutil
from pathlib import Path

import pytest

from kasir import tenders
from kasir.extensions import db
from kasir.mail import outbox
from kasir.models import EmailOutbox
from support.browser import open_cashier_page, pay_cash, scan
from support.config import CASHIER
from support.smtp import save_smtp

pytestmark = [pytest.mark.browser]

BRIEF_SHOTS = Path("/work/brief/shots")
CUSTOMER = "budi.santoso@contoh.co.id"


def keep_shot(screenshots: Path, name: str) -> None:
    if BRIEF_SHOTS.is_dir():
        shutil.copy(screenshots / name, BRIEF_SHOTS / name)


def test_the_cashier_sends_the_receipt_by_email_from_the_paid_screen(app, browser, served_app, smtp_configured,
                                                                    screenshots):
    page = open_cashier_page(browser, served_app, {"width": 1366, "height": 768}, pin=CASHIER[1])
    scan(page, "SKU0001")
    page.wait_for_selector(".cart-line[data-item='SKU0001']")
    pay_cash(page, "20.000")

    page.fill("[data-email-form] input[name=email]", "budi@contoh")
    page.click("[data-email-form] button")
    page.wait_for_selector("[data-email-result].form-error")
    assert "Alamat email tidak valid" in page.text_content("[data-email-result]")

    page.fill("[data-email-form] input[name=email]", CUSTOMER)
    page.click("[data-email-form] button")
    page.wait_for_selector("[data-email-result].form-ok")
    assert page.text_content("[data-email-result]") == f"Struk dijadwalkan dikirim ke {CUSTOMER}."
    page.screenshot(path=screenshots / "email-till.png")
    keep_shot(screenshots, "email-till.png")
    page.context.close()

    with app.app_context():
        assert [row.recipient for row in db.session.scalars(db.select(EmailOutbox))] == [CUSTOMER]
        assert outbox.deliver_due() == 1
    assert smtp_configured.received[0]["To"] == CUSTOMER


def test_admin_sees_the_smtp_form_and_a_failed_mail(app, till, admin_page, served_app, screenshots):
    save_smtp(app, 587, host="smtp.toko.example.id", security="starttls")
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    row = outbox.enqueue(sale, CUSTOMER)
    row.status, row.attempts, row.last_error = "FAILED", 6, "Server email tidak bisa dihubungi. Periksa host dan port."
    db.session.commit()
    page = admin_page
    page.goto(f"{served_app}/admin/settings/ereceipt")
    page.wait_for_selector("[data-smtp-form]")
    assert page.input_value("#smtp_host") == "smtp.toko.example.id"
    assert page.input_value("#smtp_password") == ""
    assert "b***@contoh.co.id" in page.text_content("[data-troubled-emails]")
    page.screenshot(path=screenshots / "email-settings.png", full_page=True)
    keep_shot(screenshots, "email-settings.png")
