"""Admin "Struk Digital" (/admin/settings/ereceipt): the shop's public address, validated, audited, empty by default."""
import pytest

from kasir.extensions import db
from kasir.models import AuditLog
from kasir.printing.ereceipt import PUBLIC_URL_KEY
from kasir.settings import get_setting


def saved_url(app) -> str:
    with app.app_context():
        return get_setting(PUBLIC_URL_KEY)


def test_the_page_shows_an_empty_public_address_in_bahasa_indonesia(auth, client):
    auth.login_admin()
    page = client.get("/admin/settings/ereceipt").get_data(as_text=True)
    assert "Struk Digital" in page and "Alamat publik toko" in page and 'value=""' in page


def test_the_page_is_in_the_settings_nav(auth, client):
    auth.login_admin()
    page = client.get("/admin/settings/tax").get_data(as_text=True)
    assert 'href="/admin/settings/ereceipt"' in page


def test_admin_saves_the_public_address_and_it_is_audited(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/settings/ereceipt", data={"public_base_url": " https://toko.example.id/ "})
    assert response.status_code == 302 and saved_url(app) == "https://toko.example.id"
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaveConfig",
                                                            AuditLog.target == "ereceipt"))
        assert entry is not None and "https://toko.example.id" in entry.detail


def test_an_emptied_public_address_turns_the_qr_off(app, auth, client):
    auth.login_admin()
    client.post("/admin/settings/ereceipt", data={"public_base_url": "https://toko.example.id"})
    assert client.post("/admin/settings/ereceipt", data={"public_base_url": ""}).status_code == 302
    assert saved_url(app) == ""


@pytest.mark.parametrize("typed", ["toko.example.id", "ftp://toko.example.id", "https://", "javascript:alert(1)",
                                   "https://toko example.id", "https://toko.example.id/?a=1", "https://[::1",
                                   "https://toko.example.id:port"])
def test_a_bad_public_address_is_refused_in_indonesian_and_nothing_changes(app, auth, client, typed):
    auth.login_admin()
    client.post("/admin/settings/ereceipt", data={"public_base_url": "https://toko.example.id"})
    response = client.post("/admin/settings/ereceipt", data={"public_base_url": typed})
    assert response.status_code == 422
    assert "Alamat publik toko tidak valid" in response.get_data(as_text=True)
    assert saved_url(app) == "https://toko.example.id"
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(AuditLog)
                                 .where(AuditLog.target == "ereceipt")) == 1


def test_a_cashier_cannot_open_the_ereceipt_page(auth, client):
    auth.login_cashier()
    assert client.get("/admin/settings/ereceipt").status_code in (302, 403)
