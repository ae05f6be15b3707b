"""The customer display's "Terima kasih" shows a QR to the e-receipt (<public address>/r/<token>) when the shop
has a public address, and none without one."""

from kasir import tenders
from kasir.extensions import db
from kasir.models import Sale
from kasir.printing.ereceipt import PUBLIC_URL_KEY
from kasir.settings import set_setting
from support.client import display_version_of


def pay_cash(till) -> Sale:
    sale = tenders.pay_cash(till.add("SKU0001").id, "5000")
    db.session.commit()
    return db.session.get(Sale, sale.id)


def set_public_url(url: str) -> None:
    set_setting(PUBLIC_URL_KEY, url)
    db.session.commit()


def display_state(client) -> str:
    return client.get("/display/1/state").get_data(as_text=True)


def test_after_a_paid_sale_the_display_shows_the_ereceipt_qr(till, client):
    set_public_url("https://toko.example.id")
    sale = pay_cash(till)
    state = display_state(client)
    assert 'data-mode="thanks"' in state and "Pindai untuk struk digital" in state
    assert f'data-ereceipt-url="https://toko.example.id/r/{sale.receipt_token}"' in state
    assert "<svg" in state.split("data-ereceipt-url")[1]


def test_without_a_public_address_the_display_shows_no_qr(till, client):
    pay_cash(till)
    state = display_state(client)
    assert 'data-mode="thanks"' in state and "data-ereceipt-url" not in state and "struk digital" not in state


def test_without_a_paid_sale_the_display_shows_no_qr(till, client):
    set_public_url("https://toko.example.id")
    state = display_state(client)
    assert 'data-mode="idle"' in state and "data-ereceipt-url" not in state


def test_setting_the_public_address_changes_the_display_version(till, auth, client):
    pay_cash(till)
    shown = display_version_of(display_state(client))
    auth.login_admin()
    client.post("/admin/settings/ereceipt", data={"public_base_url": "https://toko.example.id"})
    assert client.get(f"/display/1/state?v={shown}").status_code == 200
    assert "Pindai untuk struk digital" in display_state(client)
