"""Admin "Pembayaran" settings: keys sealed at rest, only masked hints shown, env locks, Tes Koneksi, /healthz."""
import pytest

from kasir.extensions import db
from kasir.models import AuditLog, Setting
from kasir.payments import gateway_settings
from support.client import AuthActions
from support.gateways import MIDTRANS_KEY, STATIC_VECTOR
from support.payments import use_gateway


@pytest.fixture
def app_config(app_config, fake_midtrans):
    return {**app_config, "MIDTRANS_BASE_URL": fake_midtrans.url}


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def save(admin, **form):
    return admin.post("/admin/payment-settings", data={"provider": "midtrans", "midtrans_env": "sandbox", **form})


def test_a_key_is_stored_encrypted_and_only_its_hint_is_shown(app, admin):
    assert save(admin, midtrans_server_key=MIDTRANS_KEY).status_code == 302
    with app.app_context():
        row = db.session.get(Setting, "midtrans_server_key")
        assert row.encrypted and row.value.startswith("v1:") and MIDTRANS_KEY not in row.value
        assert gateway_settings.load().midtrans_server_key == MIDTRANS_KEY
        assert gateway_settings.active_provider_name() == "midtrans"
        audit = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaveConfig"))
        assert audit.detail == "changed=provider,midtrans_env,midtrans_server_key" and MIDTRANS_KEY not in audit.detail
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert "SB-Mid-server-****" + MIDTRANS_KEY[-4:] in page and MIDTRANS_KEY not in page


def test_blank_keeps_the_key_and_clear_removes_it(app, admin):
    save(admin, midtrans_server_key=MIDTRANS_KEY)
    save(admin, midtrans_server_key="")
    with app.app_context():
        assert gateway_settings.load().midtrans_server_key == MIDTRANS_KEY
    response = admin.post("/admin/payment-settings", data={"provider": "mock", "clear_midtrans_server_key": "1"})
    assert response.status_code == 302
    with app.app_context():
        assert gateway_settings.load().midtrans_server_key == ""


@pytest.mark.parametrize("form, field, message", [
    ({"midtrans_server_key": ""}, "midtrans_server_key", "Isi server key Midtrans"),
    ({"midtrans_server_key": "SB-Mid-client-abcdefgh"}, "midtrans_server_key", "Itu client key"),
    ({"midtrans_server_key": MIDTRANS_KEY, "midtrans_env": "production"}, "midtrans_env", "sandbox (SB-…)"),
    ({"provider": "static", "static_qris_payload": STATIC_VECTOR[:-1] + "0"}, "static_qris_payload",
     "kode pemeriksa di akhir (CRC) tidak cocok"),
    ({"provider": "xendit"}, "xendit_secret_key", "Isi secret key Xendit"),
    ({"provider": "bitcoin"}, "provider", "Pilih penyedia"),
])
def test_invalid_settings_are_refused_with_a_precise_reason(app, admin, form, field, message):
    response = save(admin, **form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'data-error="{field}"' in html and message in html
    assert "SB-Mid-client-abcdefgh" not in html
    with app.app_context():
        assert gateway_settings.active_provider_name() == "mock"


def test_settings_from_the_environment_are_locked(app, admin, monkeypatch):
    monkeypatch.setenv("PROVIDER", "midtrans")
    monkeypatch.setenv("MIDTRANS_SERVER_KEY", MIDTRANS_KEY)
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert 'data-locked="provider"' in page and 'data-locked="midtrans_server_key"' in page
    assert MIDTRANS_KEY not in page and "SB-Mid-server-****" in page
    save(admin, provider="mock", midtrans_server_key="SB-Mid-server-other-key-12345")
    with app.app_context():
        assert gateway_settings.active_provider_name() == "midtrans"
        assert gateway_settings.load().midtrans_server_key == MIDTRANS_KEY
        assert db.session.get(Setting, "midtrans_server_key") is None


def test_a_setting_the_environment_sets_is_not_read_from_the_table(app, monkeypatch):
    from sqlalchemy import event

    monkeypatch.setenv("PROVIDER", "mock")
    reads = []

    def seen(_connection, _cursor, statement, *_rest):
        reads.append(statement)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", seen)
        try:
            assert gateway_settings.active_provider_name() == "mock"
            assert gateway_settings.read("provider", "merchant_name") == {"provider": "mock", "merchant_name": ""}
        finally:
            event.remove(db.engine, "before_cursor_execute", seen)
    assert len(reads) == 1 and "FROM settings" in reads[0]  # merchant_name's row only


def test_a_key_sealed_with_another_encryption_key_must_be_entered_again(app, app_config, admin):
    from kasir import create_app

    save(admin, midtrans_server_key=MIDTRANS_KEY)
    other = create_app({**app_config, "KASIR_ENCRYPTION_KEY": "00" * 32})
    with other.app_context():
        settings = gateway_settings.load()
        assert settings.midtrans_server_key == "" and "midtrans_server_key" in settings.unreadable
        db.engine.dispose()


def test_connection_test_shows_latency_and_is_audited(app, admin):
    save(admin, midtrans_server_key=MIDTRANS_KEY)
    response = admin.post("/admin/payment-settings/test", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Tes koneksi berhasil" in html and " ms)" in html
    save(admin, midtrans_server_key="SB-Mid-server-WRONGwrongWRONG99")
    html = admin.post("/admin/payment-settings/test", follow_redirects=True).get_data(as_text=True)
    assert "Tes koneksi gagal" in html and "401" in html and "WRONG" not in html
    with app.app_context():
        outcomes = db.session.scalars(db.select(AuditLog.outcome).where(AuditLog.action == "TestConnection")).all()
    assert outcomes == ["ok", "failed"]


def test_connection_test_is_limited_to_three_a_minute(app_config):
    from kasir import create_app

    limited = create_app({**app_config, "RATELIMIT_ENABLED": True})
    client = limited.test_client()
    AuthActions(client).login_admin()
    codes = [client.post("/admin/payment-settings/test").status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    with limited.app_context():
        db.engine.dispose()


def test_healthz_reports_db_provider_and_printer_without_auth(app, client, fake_midtrans):
    body = client.get("/healthz").json
    assert body["status"] == "ok" and body["db"] == "ok" and body["version"]
    assert body["provider"] == {"name": "mock", "reachable": True, "latency_ms": 0}
    assert body["printer"]["enabled"] is False and body["printer"]["failed_jobs_24h"] == 0
    from kasir.payments import health

    use_gateway(app, provider="midtrans", midtrans_server_key=MIDTRANS_KEY)
    health.forget()  # measurements are per process; another test's may still be fresh
    body = client.get("/healthz").json
    assert body["provider"]["name"] == "midtrans" and body["provider"]["reachable"] is True
    fake_midtrans.stop()
    with app.app_context():
        health.refresh("midtrans")
    body = client.get("/healthz").json
    assert body["status"] == "degraded" and body["provider"]["reachable"] is False


def test_till_hides_qris_when_the_provider_is_unreachable(app, client, auth, fake_midtrans):
    use_gateway(app, provider="midtrans", midtrans_server_key=MIDTRANS_KEY)
    fake_midtrans.stop()
    from kasir.payments import health

    with app.app_context():
        health.refresh()
        assert not health.availability().ok


def test_a_saved_merchant_name_and_provider_are_used_by_the_next_qr_at_once(app, admin):
    from kasir.payments.merchant import merchant_identity

    with app.app_context():
        assert merchant_identity()["name"] == "TOKO KASIR" and gateway_settings.active_provider_name() == "mock"
    save(admin, provider="mock", merchant_name="Warung Baru")
    with app.app_context():
        assert merchant_identity()["name"] == "WARUNG BARU"
    save(admin, midtrans_server_key=MIDTRANS_KEY)
    with app.app_context():
        assert gateway_settings.active_provider_name() == "midtrans"
        assert gateway_settings.load().midtrans_server_key == MIDTRANS_KEY


def test_a_setting_changed_by_another_process_is_used_by_the_next_qr(app):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from kasir.payments.merchant import merchant_identity

    with app.app_context():
        assert merchant_identity()["name"] == "TOKO KASIR"
    other_process = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    with other_process.begin() as connection:
        connection.execute(text("INSERT INTO settings (key, value, encrypted) "
                                "VALUES ('merchant_name', 'Toko Sebelah', false)"))
    other_process.dispose()
    with app.app_context():
        assert merchant_identity()["name"] == "TOKO SEBELAH"


# --- merchant name and city: the QRIS limits are said, never applied silently ------------------------------

def set_shop(app, **values):
    with app.app_context():
        for key, value in values.items():
            db.session.merge(Setting(key=key, value=value, encrypted=False))
        db.session.commit()


def test_a_merchant_name_over_25_characters_is_refused_with_the_limit(app, admin):
    response = save(admin, provider="mock", merchant_name="Toko Sembako Sumber Rejeki Abadi", merchant_city="Depok")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-error="merchant_name"' in html
    assert "paling banyak 25 karakter (batas QRIS untuk nama merchant); sekarang 32" in html
    with app.app_context():
        assert gateway_settings.load().merchant_name == ""


def test_a_city_over_15_characters_is_refused_with_the_limit(admin):
    response = save(admin, provider="mock", merchant_city="Tangerang Selatan")
    assert response.status_code == 422
    assert "paling banyak 15 karakter (batas QRIS untuk kota); sekarang 17" in response.get_data(as_text=True)


def test_markup_and_control_characters_never_reach_qr_tag_59(app, admin):
    from kasir import qris
    from kasir.payments.providers.mock import build_payload

    assert save(admin, provider="mock", merchant_name="<b>Kopi\x07 Kita</b>\u200b",
                merchant_city="Depok").status_code == 302
    with app.app_context():
        assert gateway_settings.load().merchant_name == "Kopi Kita"
        parsed = qris.parse(build_payload(5000, "MOCK-1"))
    assert (parsed.merchant_name, parsed.merchant_city) == ("KOPI KITA", "DEPOK")


def test_a_long_shop_name_is_shortened_at_a_word_for_the_qr_and_admin_is_told(app, admin):
    from kasir.payments.merchant import merchant_identity

    response = admin.post("/admin/settings", data={"shop_name": "Toko Sembako Sumber Rejeki Abadi",
                                                   "shop_address": "Jl. Merdeka No. 17, Depok"})
    assert response.status_code == 302
    with app.app_context():
        assert merchant_identity()["name"] == "TOKO SEMBAKO SUMBER"
    page = admin.get("/admin/settings").get_data(as_text=True)
    assert "Di QR nama toko ditulis TOKO SEMBAKO SUMBER (QRIS maks. 25 karakter" in page
    assert "disingkat menjadi TOKO SEMBAKO SUMBER" in admin.get("/admin/payment-settings").get_data(as_text=True)


def test_a_shop_name_over_its_limit_is_refused_not_cut(app, admin):
    response = admin.post("/admin/settings", data={"shop_name": "Toko " + "x" * 60})
    assert response.status_code == 422
    assert "Nama toko paling banyak 60 karakter; sekarang 65." in response.get_data(as_text=True)


def test_the_qr_city_comes_from_the_shop_address_never_jakarta(app, admin):
    from kasir.payments.merchant import merchant_identity

    set_shop(app, shop_address="Jl. Malioboro 52, Kota Yogyakarta, DI Yogyakarta 55271")
    with app.app_context():
        assert merchant_identity()["city"] == "YOGYAKARTA"
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert "Kosong = kota dari alamat toko: YOGYAKARTA." in page and "JAKARTA" not in page.replace("YOGYAKARTA", "")


def test_without_a_city_in_the_address_the_city_is_required_at_setup(app, admin):
    from kasir import qris
    from kasir.payments.providers.mock import build_payload

    set_shop(app, shop_address="Jl. Raya Bogor Km 30")
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert "wajib diisi" in page and "kota belum diisi" in page
    response = save(admin, provider="mock", merchant_city="")
    assert response.status_code == 422 and "Isi kota merchant" in response.get_data(as_text=True)
    with app.app_context():  # until then a simulated QR says so instead of naming a wrong city
        assert qris.parse(build_payload(5000, "MOCK-1")).merchant_city == "BELUM DIISI"
    assert save(admin, provider="mock", merchant_city="cibinong").status_code == 302
    with app.app_context():
        assert qris.parse(build_payload(5000, "MOCK-1")).merchant_city == "CIBINONG"


@pytest.mark.parametrize("address, city", [
    ("Jl. Merdeka No. 17, Depok", "DEPOK"),
    ("Jl. Sudirman 5, Kel. Citarum, Kec. Bandung Wetan, Kota Bandung, Jawa Barat 40115", "BANDUNG"),
    ("Ruko Sentosa B2, Kabupaten Bogor, Jawa Barat", "BOGOR"),
    ("Jl. Pemuda 3, Semarang 50132", "SEMARANG"),
    ("Jl. Raya Bogor Km 30", ""),
    ("Jl. Ciputat Raya 1, Tangerang Selatan, Banten", ""),  # 17 characters: QRIS takes 15, so admin is asked
])
def test_city_from_address(address, city):
    from kasir.payments.qris_text import city_from_address

    assert city_from_address(address) == city
