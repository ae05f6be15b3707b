"""Admin "Pengaturan Pajak" (/admin/settings/tax): Indonesian form, audited, bad input changes nothing."""
from kasir.extensions import db
from kasir.models import AuditLog
from kasir.settings import tax_settings
from kasir.tax import TaxSettings, format_percent, parse_percent

CAFE = {"enabled": "1", "prices_include_tax": "0", "ppn": "12", "dpp": "11/12", "pbjt": "10", "service": "5,5",
        "service_taxed": "0"}


def test_the_tax_page_shows_tax_off_in_bahasa_indonesia(auth, client):
    auth.login_admin()
    page = client.get("/admin/settings/tax").get_data(as_text=True)
    assert "Pengaturan Pajak" in page and "Tarif PPN (%)" in page and "Biaya layanan (%)" in page
    assert '<option value="0" selected>Nonaktif</option>' in page


def test_admin_saves_the_tax_rule_and_it_is_audited(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/settings/tax", data=CAFE)
    assert response.status_code == 302
    with app.app_context():
        assert tax_settings() == TaxSettings(enabled=True, prices_include_tax=False, pbjt_bp=1_000, service_bp=550,
                                             service_taxed=False)
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "SaveConfig"))
        assert entry.target == "tax"


def test_admin_sets_cash_rounding_on_the_tax_page(app, auth, client):
    auth.login_admin()
    assert "Pembulatan tunai" in client.get("/admin/settings/tax").get_data(as_text=True)
    assert client.post("/admin/settings/tax", data={**CAFE, "cash_rounding": "500"}).status_code == 302
    with app.app_context():
        assert tax_settings().cash_rounding == 500
    page = client.get("/admin/settings/tax").get_data(as_text=True)
    assert '<option value="500" selected>Ke Rp 500 terdekat</option>' in page


def test_an_unknown_cash_rounding_step_is_refused(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/settings/tax", data={**CAFE, "cash_rounding": "250"})
    assert response.status_code == 422
    assert "Pembulatan tunai harus 0, 100 atau 500." in response.get_data(as_text=True)
    with app.app_context():
        assert tax_settings() == TaxSettings()


def test_a_bad_rate_is_refused_and_nothing_is_saved(app, auth, client):
    auth.login_admin()
    response = client.post("/admin/settings/tax", data={**CAFE, "ppn": "dua belas"})
    assert response.status_code == 422
    assert "PPN: tulis persen seperti 12 atau 12,5." in response.get_data(as_text=True)
    with app.app_context():
        assert tax_settings() == TaxSettings()


def test_a_cashier_cannot_open_the_tax_page(auth, client):
    auth.login_cashier()
    assert client.get("/admin/settings/tax").status_code in (302, 403)


def test_percent_text_reads_as_basis_points_and_back():
    assert [parse_percent(text, "PPN") for text in ("12", "12,5", "12.25", "", "0")] == [1200, 1250, 1225, 0, 0]
    assert [format_percent(bp) for bp in (1200, 1250, 1225, 0)] == ["12", "12,5", "12,25", "0"]
