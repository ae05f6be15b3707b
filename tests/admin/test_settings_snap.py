"""Admin "Pembayaran" for DOKU and NICEPAY (BI SNAP): keys and PEMs sealed, masked, env-locked, Tes Koneksi."""
import io

import pytest

from fixtures.snap import snap_tokens_forgotten  # noqa: F401  (each test starts without a cached token)
from kasir.extensions import db
from kasir.models import AuditLog, Setting
from kasir.payments import gateway_settings
from kasir.payments.providers import get_provider
from support.snap_fake import SnapFake, rsa_pair

CLIENT_ID, SECRET = "BRN-0201-1700000000000", "SK-doku-test-secret-0123456789"
NICEPAY_ID, NICEPAY_SECRET = "IONPAYTEST", "nicepay-test-client-secret-0123456789"


@pytest.fixture(scope="module")
def merchant_keys():
    return rsa_pair()


@pytest.fixture(scope="module")
def gateway_keys():
    return rsa_pair()


@pytest.fixture
def doku_fake(httpserver, merchant_keys):
    return SnapFake(httpserver, client_id=CLIENT_ID, secret=SECRET, merchant_public_pem=merchant_keys[1],
                    base_path="", token_path="/authorization/v1/access-token/b2b", qr_prefix="/snap-adapter/b2b",
                    channel_id="H2H", cancel_path="/v1.0/qr/qr-mpm-cancel", expires_in="900")


@pytest.fixture
def app_config(app_config, doku_fake):
    return {**app_config, "DOKU_BASE_URL": doku_fake.url, "GATEWAY_READ_TIMEOUT": 2}


@pytest.fixture
def admin(client, auth):
    auth.login_admin()
    return client


def save_doku(admin, merchant_keys, gateway_keys, **form):
    data = {"provider": "doku", "doku_client_id": CLIENT_ID, "doku_secret_key": SECRET,
            "doku_merchant_id": "MALL01", "doku_terminal_id": "TERM01",
            "doku_private_key": (io.BytesIO(merchant_keys[0].encode()), "ours.pem"),
            "doku_public_key": gateway_keys[1], **form}
    return admin.post("/admin/payment-settings", data=data, content_type="multipart/form-data")


def pem_body(pem: str) -> str:
    return "".join(pem.strip().splitlines()[1:-1])


def test_doku_keys_are_sealed_and_only_hints_are_shown(app, admin, merchant_keys, gateway_keys):
    assert save_doku(admin, merchant_keys, gateway_keys).status_code == 302
    with app.app_context():
        rows = {row.key: row for row in db.session.scalars(db.select(Setting))}
        for key in ("doku_secret_key", "doku_private_key", "doku_public_key"):
            assert rows[key].encrypted and rows[key].value.startswith("v1:")
        stored = " ".join(row.value or "" for row in rows.values())
        assert SECRET not in stored and pem_body(merchant_keys[0])[:40] not in stored
        assert pem_body(gateway_keys[1])[:40] not in stored
        loaded = gateway_settings.load()
        assert loaded.doku_private_key.strip() == merchant_keys[0].strip() and loaded.doku_client_id == CLIENT_ID
        audit = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaveConfig"))
        assert "doku_private_key" in audit.detail and "BEGIN" not in audit.detail and SECRET not in audit.detail
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert 'data-pem-hint="doku_private_key"' in page and "Kunci RSA tersimpan (…" in page
    assert "BEGIN" not in page.replace("-----BEGIN …-----", "") and SECRET not in page and "****" in page


def test_the_provider_uses_the_sealed_doku_settings(app, admin, merchant_keys, gateway_keys):
    save_doku(admin, merchant_keys, gateway_keys)
    with app.app_context():
        provider = get_provider("doku")
        assert (provider.client_id, provider.merchant_id, provider.terminal_id) == (CLIENT_ID, "MALL01", "TERM01")


def test_tes_koneksi_fetches_a_token_with_the_uploaded_key(app, admin, doku_fake, merchant_keys, gateway_keys):
    save_doku(admin, merchant_keys, gateway_keys)
    response = admin.post("/admin/payment-settings/test", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Tes koneksi berhasil" in html and "token diterima" in html
    assert len(doku_fake.of("token")) == 1 and doku_fake.rejections == []
    assert "BEGIN" not in html.replace("-----BEGIN …-----", "") and SECRET not in html


@pytest.mark.parametrize("field, value", [
    ("doku_private_key", "-----BEGIN PRIVATE KEY-----\nbukan kunci\n-----END PRIVATE KEY-----"),
    ("doku_public_key", "kunci publik palsu"),
])
def test_a_bad_pem_is_refused_and_nothing_changes(app, admin, merchant_keys, gateway_keys, field, value):
    response = save_doku(admin, merchant_keys, gateway_keys, **{field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and f'data-error="{field}"' in html and "format PEM" in html
    assert "bukan kunci" not in html and "kunci publik palsu" not in html
    with app.app_context():
        assert db.session.scalar(db.select(Setting).where(Setting.key.like("doku_%"))) is None
        assert gateway_settings.active_provider_name() == "mock"


def test_a_private_key_given_as_public_is_refused(app, admin, merchant_keys, gateway_keys):
    response = save_doku(admin, merchant_keys, gateway_keys, doku_public_key=merchant_keys[0])
    assert response.status_code == 422 and 'data-error="doku_public_key"' in response.get_data(as_text=True)
    assert pem_body(merchant_keys[0])[:40] not in response.get_data(as_text=True)


def test_doku_needs_its_keys_before_it_is_chosen(app, admin):
    response = admin.post("/admin/payment-settings", data={"provider": "doku"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-error="doku_private_key"' in html and "untuk memakai DOKU" in html


def test_nicepay_keys_are_sealed_and_masked(app, admin, merchant_keys, gateway_keys):
    data = {"provider": "nicepay", "nicepay_client_id": NICEPAY_ID, "nicepay_client_secret": NICEPAY_SECRET,
            "nicepay_store_id": "STORE01", "nicepay_private_key": merchant_keys[0],
            "nicepay_public_key": (io.BytesIO(gateway_keys[1].encode()), "nicepay.pem")}
    assert admin.post("/admin/payment-settings", data=data, content_type="multipart/form-data").status_code == 302
    with app.app_context():
        assert db.session.get(Setting, "nicepay_client_secret").encrypted
        assert db.session.get(Setting, "nicepay_public_key").encrypted
        provider = get_provider("nicepay")
        assert (provider.client_id, provider.terminal_id) == (NICEPAY_ID, "STORE01")
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert 'data-pem-hint="nicepay_public_key"' in page and NICEPAY_SECRET not in page
    assert pem_body(gateway_keys[1])[:40] not in page and pem_body(merchant_keys[0])[:40] not in page


def test_doku_keys_from_the_environment_are_locked(app, admin, monkeypatch, tmp_path, merchant_keys, gateway_keys):
    key_file = tmp_path / "ours.pem"
    key_file.write_text(merchant_keys[0])
    monkeypatch.setenv("DOKU_SECRET_KEY", SECRET)
    monkeypatch.setenv("DOKU_PRIVATE_KEY_FILE", str(key_file))
    app.config["DOKU_PRIVATE_KEY"] = merchant_keys[0]  # what kasir.config read from the file at start
    page = admin.get("/admin/payment-settings").get_data(as_text=True)
    assert 'data-locked="doku_secret_key"' in page and 'data-locked="doku_private_key"' in page
    assert SECRET not in page and pem_body(merchant_keys[0])[:40] not in page and "Kunci RSA tersimpan" in page
    other = rsa_pair()
    save_doku(admin, (other[0], other[1]), gateway_keys, doku_secret_key="SK-other-secret-99999999")
    with app.app_context():
        loaded = gateway_settings.load()
        assert loaded.doku_secret_key == SECRET and loaded.doku_private_key == merchant_keys[0]
        assert db.session.get(Setting, "doku_private_key") is None
        assert db.session.get(Setting, "doku_secret_key") is None
