"""Kirim via Email at the till: the paid screen offers it once SMTP is set, the typed address is checked, the
receipt queued once however often it is tapped, and the cashier reads "Struk dijadwalkan dikirim ke …"."""
import re

from kasir import tenders
from kasir.extensions import db
from kasir.models import EMAIL_QUEUED, SALE_VOID, EmailOutbox
from support.smtp import save_smtp

CUSTOMER = "budi.santoso@contoh.co.id"


def paid_sale(till):
    return tenders.pay_cash(till.add("SKU0001").id, "5000")


def queued() -> list[tuple[int, str, str]]:
    db.session.expire_all()
    return [(row.sale_id, row.recipient, row.status) for row in db.session.scalars(db.select(EmailOutbox))]


def paid_screen(auth, htmx, till) -> str:
    auth.login_cashier()
    htmx.post("/pos/register", data={"register": "1"})
    sale = till.add("SKU0001")
    return htmx.post("/pos/checkout/cash", data={"sale_id": sale.id, "tendered": "5000"}).get_data(as_text=True)


def test_the_paid_screen_offers_kirim_via_email_once_smtp_is_set(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    page = paid_screen(auth, htmx, till)
    assert "Kirim via WhatsApp" in page and "Kirim via Email" in page and 'name="email"' in page


def test_without_smtp_the_paid_screen_has_no_email_box(auth, htmx, till):
    page = paid_screen(auth, htmx, till)
    assert "Kirim via WhatsApp" in page and "Kirim via Email" not in page


def test_the_cashier_queues_the_receipt_and_reads_where_it_goes(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    auth.login_cashier()
    response = htmx.post(f"/receipts/{sale.id}/email", data={"email": f" {CUSTOMER} "})
    assert response.status_code == 200
    assert f"Struk dijadwalkan dikirim ke {CUSTOMER}." in response.get_data(as_text=True)
    assert queued() == [(sale.id, CUSTOMER, EMAIL_QUEUED)]


def test_a_double_tap_queues_one_mail(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    auth.login_cashier()
    for _ in range(2):
        assert htmx.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER}).status_code == 200
    assert len(queued()) == 1


def test_a_bad_address_is_refused_in_indonesian_and_kept_to_fix(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    auth.login_cashier()
    response = htmx.post(f"/receipts/{sale.id}/email", data={"email": "budi@contoh"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Alamat email tidak valid. Contoh: nama@contoh.com" in page
    assert 'value="budi@contoh"' in page and queued() == []


def test_without_smtp_the_route_says_so_and_queues_nothing(auth, htmx, till):
    sale = paid_sale(till)
    auth.login_cashier()
    response = htmx.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER})
    assert response.status_code == 409 and "Email belum diatur" in response.get_data(as_text=True)
    assert queued() == []


def test_an_open_cart_cannot_be_emailed(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    cart = till.add("SKU0001")
    auth.login_cashier()
    assert htmx.post(f"/receipts/{cart.id}/email", data={"email": CUSTOMER}).status_code == 404


def test_a_voided_sale_cannot_be_emailed(app, auth, htmx, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    sale.status = SALE_VOID
    db.session.commit()
    auth.login_cashier()
    assert htmx.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER}).status_code == 404
    assert queued() == []


def test_sending_needs_a_login(app, client, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    assert client.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER}).status_code in (302, 401)
    assert queued() == []


def test_sending_needs_the_csrf_token(app, auth, client, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    auth.login_cashier()
    app.config["WTF_CSRF_ENABLED"] = True
    headers = {"HX-Request": "true"}
    assert client.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER}, headers=headers).status_code == 400
    assert queued() == []
    token = re.search(r'"X-CSRFToken": "([^"]+)"', client.get(f"/receipts/{sale.id}").get_data(as_text=True)).group(1)
    response = client.post(f"/receipts/{sale.id}/email", data={"email": CUSTOMER},
                           headers={**headers, "X-CSRFToken": token})
    assert response.status_code == 200 and len(queued()) == 1


def test_the_receipt_preview_offers_kirim_via_email_too(app, auth, client, till, closed_port):
    save_smtp(app, closed_port)
    sale = paid_sale(till)
    auth.login_cashier()
    page = client.get(f"/receipts/{sale.id}").get_data(as_text=True)
    assert "Kirim via Email" in page and f'hx-post="/receipts/{sale.id}/email"' in page
