"""Admin "Struk Digital" › Email (SMTP): the password sealed and shown masked, kept when left blank, values
locked by the environment, Indonesian errors with nothing changed, Tes Koneksi and Kirim Email Uji against a
real SMTP server on loopback."""
import re

import pytest

from kasir.extensions import db
from kasir.mail import settings as mail_settings
from kasir.models import AuditLog, Setting
from support.smtp import SMTP_LOGIN, save_smtp

PASSWORD = "sandi-smtp-rahasia-2026"


def form(port: int, **values) -> dict:
    return {"host": "127.0.0.1", "port": str(port), "security": "none", "username": SMTP_LOGIN[0],
            "password": PASSWORD, "sender_address": "struk@toko.example.id", "sender_name": "Toko Contoh", **values}


def stored(app):
    with app.app_context():
        return mail_settings.load()


def audit_entries(app, action: str) -> list[AuditLog]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuditLog).where(AuditLog.action == action,
                                                                 AuditLog.target == "email")))


def test_the_page_shows_the_smtp_form_in_bahasa_indonesia(auth, client):
    auth.login_admin()
    page = client.get("/admin/settings/ereceipt").get_data(as_text=True)
    for text in ("Email (SMTP)", "Host SMTP", "Keamanan koneksi", "STARTTLS", "SSL/TLS", "Tanpa enkripsi",
                 "Kata sandi", "Alamat pengirim", "Nama pengirim", "Tes Koneksi", "Kirim Email Uji"):
        assert text in page


def test_admin_saves_the_smtp_settings_with_the_password_sealed(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    assert response.status_code == 302
    settings = stored(app)
    assert (settings.host, settings.port, settings.security, settings.password) == ("127.0.0.1", 2525, "none",
                                                                                    PASSWORD)
    with app.app_context():
        row = db.session.get(Setting, "smtp_password")
        assert row.encrypted and PASSWORD not in row.value


def test_the_page_shows_the_password_masked_and_never_its_value(auth, client):
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    page = client.get("/admin/settings/ereceipt").get_data(as_text=True)
    assert PASSWORD not in page and "Tersimpan: ******** (kosongkan = tetap)" in page
    assert not re.search(r'name="password"[^>]*value=', page)


def test_an_empty_password_field_keeps_the_stored_password(app, auth, client):
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    assert client.post("/admin/settings/ereceipt/smtp", data=form(2526, password="")).status_code == 302
    assert (stored(app).port, stored(app).password) == (2526, PASSWORD)


def test_the_stored_password_can_be_removed(app, auth, client):
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    client.post("/admin/settings/ereceipt/smtp", data=form(2525, password="", clear_password="1"))
    assert stored(app).password == ""


def test_the_save_is_audited_with_field_names_only(app, auth, client):
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    [entry] = audit_entries(app, "SaveConfig")
    assert entry.detail == "changed=host,port,security,username,password,sender_address,sender_name"
    assert PASSWORD not in entry.detail and "127.0.0.1" not in entry.detail


@pytest.mark.parametrize("field, value, message", [
    ("host", "smtp server.example", "Host SMTP tidak valid"),
    ("port", "70000", "Port harus angka 1 sampai 65535"),
    ("port", "dua", "Port harus angka 1 sampai 65535"),
    ("security", "tls13", "Pilih keamanan koneksi"),
    ("sender_address", "struk-toko", "Alamat pengirim tidak valid"),
    ("sender_address", "", "Isi alamat pengirim"),
    ("sender_name", "Toko\nBcc: x@y.id", "Nama pengirim terlalu panjang atau berisi karakter"),
])
def test_a_bad_value_is_refused_in_indonesian_and_nothing_changes(app, auth, client, field, value, message):
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    response = client.post("/admin/settings/ereceipt/smtp",
                           data={**form(2526, password="sandi-baru-123456"), field: value})
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert (stored(app).port, stored(app).password) == (2525, PASSWORD)
    assert len(audit_entries(app, "SaveConfig")) == 1


def test_a_value_from_the_environment_is_locked(app, auth, client, monkeypatch):
    monkeypatch.setenv("SMTP_PASSWORD", "sandi-dari-env-2026")
    monkeypatch.setenv("SMTP_HOST", "mail.example.id")
    auth.login_admin()
    client.post("/admin/settings/ereceipt/smtp", data=form(2525))
    settings = stored(app)
    assert (settings.host, settings.password, settings.port) == ("mail.example.id", "sandi-dari-env-2026", 2525)
    page = client.get("/admin/settings/ereceipt").get_data(as_text=True)
    assert "Dikunci oleh variabel lingkungan SMTP_PASSWORD" in page and "sandi-dari-env-2026" not in page


def test_saving_needs_the_csrf_token(app, auth, client):
    auth.login_admin()
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/admin/settings/ereceipt/smtp", data=form(2525)).status_code == 400
    assert stored(app).host == ""
    page = client.get("/admin/settings/ereceipt").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/admin/settings/ereceipt/smtp", data={**form(2525), "csrf_token": token}).status_code == 302


def test_a_cashier_cannot_change_the_smtp_settings(app, auth, client):
    auth.login_cashier()
    assert client.post("/admin/settings/ereceipt/smtp", data=form(2525)).status_code in (302, 403)
    assert stored(app).host == ""


def test_tes_koneksi_logs_in_without_sending(app, auth, client, smtp_server):
    save_smtp(app, smtp_server.port)
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", follow_redirects=True).get_data(as_text=True)
    assert "Berhasil: Terhubung dan login berhasil." in page
    assert smtp_server.logins == [SMTP_LOGIN[0]] and smtp_server.received == []
    [entry] = audit_entries(app, "TestConnection")
    assert entry.outcome == "ok"


def test_tes_koneksi_says_when_the_login_is_refused(app, auth, client, smtp_server):
    save_smtp(app, smtp_server.port, password="kata-sandi-salah-99")
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", follow_redirects=True).get_data(as_text=True)
    assert "Gagal: Login ke server email ditolak. Periksa nama pengguna dan kata sandi." in page
    assert "kata-sandi-salah-99" not in page
    [entry] = audit_entries(app, "TestConnection")
    assert entry.outcome == "failed" and "kata-sandi-salah-99" not in entry.detail


def test_tes_koneksi_says_when_the_host_is_unreachable(app, auth, client, closed_port):
    save_smtp(app, closed_port)
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", follow_redirects=True).get_data(as_text=True)
    assert "Gagal: Server email tidak bisa dihubungi. Periksa host dan port." in page


@pytest.mark.parametrize("security, message", [
    ("starttls", "Server email tidak mendukung STARTTLS"),
    ("ssl", "Koneksi aman (TLS) ke server email gagal"),
])
def test_tes_koneksi_says_when_tls_fails(app, auth, client, smtp_server, security, message):
    save_smtp(app, smtp_server.port, security=security)  # the loopback server speaks plain SMTP only
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", follow_redirects=True).get_data(as_text=True)
    assert f"Gagal: {message}" in page


def test_kirim_email_uji_sends_a_test_mail(app, auth, client, smtp_server):
    save_smtp(app, smtp_server.port)
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", data={"to": "pemilik@contoh.co.id"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Berhasil: Email uji terkirim." in page
    [message] = smtp_server.received
    assert message["Subject"] == "Email uji Toko Kasir" and message["To"] == "pemilik@contoh.co.id"
    [entry] = audit_entries(app, "SendTestEmail")
    assert "pemilik@contoh.co.id" not in entry.detail and "p***@contoh.co.id" in entry.detail


def test_kirim_email_uji_refuses_a_bad_address(app, auth, client, smtp_server):
    save_smtp(app, smtp_server.port)
    auth.login_admin()
    page = client.post("/admin/settings/ereceipt/smtp/test", data={"to": "pemilik"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Gagal: Alamat email tidak valid." in page and smtp_server.received == []
