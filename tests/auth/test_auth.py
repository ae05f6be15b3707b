import re
from datetime import timedelta

import pytest

from kasir import clock, create_app
from kasir.auth import service as auth_service
from kasir.auth.service import create_user
from kasir.extensions import db
from kasir.models import ROLE_CASHIER, AuditLog, LoginFailure, User
from support.config import ADMIN, CASHIER


def test_cashier_logs_in_with_pin_and_lands_on_the_till(client, auth):
    response = auth.login_cashier()
    assert response.status_code == 302
    assert response.headers["Location"] == "/pos"


def test_wrong_pin_is_refused_in_indonesian_and_audited(client, app):
    response = client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": "0000"})
    assert response.status_code == 401
    assert "PIN salah" in response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "Login"))
        assert entry.outcome == "failed"


def test_cashier_cannot_log_in_with_a_password_form(client):
    response = client.post("/login", data={"mode": "password", "username": CASHIER[0], "password": CASHIER[1]})
    assert response.status_code == 401


def test_admin_logs_in_with_password_and_lands_on_admin(client, auth):
    response = auth.login_admin()
    assert response.headers["Location"] == "/admin"


def test_inactive_user_cannot_log_in(client, app, auth):
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == CASHIER[0])).active = False
        db.session.commit()
    assert auth.login_cashier().status_code == 401


def test_first_login_with_temporary_password_forces_a_change(client, app):
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == ADMIN[0])).must_change_password = True
        db.session.commit()
    response = client.post("/login", data={"mode": "password", "username": ADMIN[0], "password": ADMIN[1]})
    assert response.headers["Location"] == "/account/password"
    assert client.get("/admin").headers["Location"] == "/account/password"
    response = client.post("/account/password", data={"current_password": ADMIN[1], "new_password": "baru-sekali-9",
                                                      "repeat_password": "baru-sekali-9"})
    assert response.status_code == 302
    assert client.get("/admin").status_code == 200


def test_password_change_rejects_short_password(client, auth):
    auth.login_admin()
    response = client.post("/account/password", data={"current_password": ADMIN[1], "new_password": "pendek",
                                                      "repeat_password": "pendek"})
    assert response.status_code == 422
    assert "minimal 10" in response.get_data(as_text=True)


@pytest.mark.parametrize("weak, message", [
    ("sandi-123", "minimal 10 karakter"),
    ("08123456789", "tidak boleh hanya angka"),
    ("Password123", "terlalu umum"),
])
def test_password_change_refuses_a_weak_password_in_indonesian(client, auth, weak, message):
    auth.login_admin()
    response = client.post("/account/password", data={"current_password": ADMIN[1], "new_password": weak,
                                                      "repeat_password": weak})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_password_equal_to_the_username_is_refused(client, auth):
    auth.login_admin()
    response = client.post("/admin/users/new", data={"username": "pemilikbaru", "role": "admin",
                                                      "password": "PemilikBaru"})
    assert response.status_code == 422
    assert "sama dengan nama pengguna" in response.get_data(as_text=True)


def test_admin_user_form_accepts_a_strong_password(client, auth):
    auth.login_admin()
    response = client.post("/admin/users/new", data={"username": "pemilikbaru", "role": "admin",
                                                      "password": "kopi-susu-gula-aren"})
    assert response.status_code == 302


def test_cashier_gets_403_on_admin_pages(client, auth):
    auth.login_cashier()
    assert client.get("/admin/products").status_code == 403


def test_anonymous_user_is_sent_to_login(client):
    response = client.get("/pos")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_htmx_request_without_session_redirects_the_whole_page(client):
    response = client.post("/pos/cart/scan", data={"q": "SKU0001"}, headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].startswith("/login")


def test_login_ignores_an_offsite_next_parameter(client):
    response = client.post("/login?next=//evil.example/x", data={"mode": "pin", "username": CASHIER[0],
                                                                 "pin": CASHIER[1]})
    assert response.headers["Location"] == "/pos"


def test_logout_ends_the_session(client, auth):
    auth.login_cashier()
    auth.logout()
    assert client.get("/pos").status_code == 302


def test_login_is_rate_limited_per_ip(app_config):
    app = create_app({**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    codes = [client.post("/login", data={"mode": "pin", "username": "x", "pin": "1"}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert "Terlalu banyak" in client.post("/login", data={}).get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_forms_without_csrf_token_are_refused(app_config):
    app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    client = app.test_client()
    response = client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert response.status_code == 400
    assert "Muat ulang" in response.get_data(as_text=True)
    with app.app_context():
        db.engine.dispose()


def test_pages_carry_a_strict_csp_and_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite_lax(client, auth):
    response = auth.login_cashier()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_have_no_inline_scripts(client, auth):
    auth.login_cashier()
    for path in ("/login", "/pos"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " on" + "click=" not in html


def checked_cashiers(page: str) -> list[str]:
    return re.findall(r'name="username" value="([^"]+)" required checked', page)


def test_the_login_page_preselects_no_cashier_among_several(client, app):
    assert checked_cashiers(client.get("/login").get_data(as_text=True)) == [CASHIER[0]]  # the only one
    with app.app_context():
        create_user("andi", ROLE_CASHIER, display_name="Andi", pin="1357")
        db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    assert 'value="andi" required' in page and checked_cashiers(page) == []
    wrong = client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": "0000"})
    assert checked_cashiers(wrong.get_data(as_text=True)) == [CASHIER[0]]  # kept after a wrong PIN


def test_a_pin_without_a_chosen_name_asks_for_the_name(client):
    response = client.post("/login", data={"mode": "pin", "pin": CASHIER[1]})
    assert response.status_code == 401
    assert "Pilih nama Anda" in response.get_data(as_text=True)


@pytest.mark.parametrize("next_url", ["/%09/evil.example/", "/\t/evil.example/", "//evil.example/", "/\\evil.example",
                                      "\\\\evil.example", "/%5Cevil.example", "/%2F/evil.example", "https://evil.example/",
                                      "javascript:alert(1)", "/%0d%0a/evil.example", " /evil", "/\x00/evil.example"])
def test_login_ignores_a_next_parameter_that_leaves_this_server(client, next_url):
    response = client.post("/login", query_string={"next": next_url},
                           data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert response.headers["Location"] == "/pos"


def test_login_ignores_the_raw_tab_payload_of_the_attack_review(client):
    response = client.post("/login?next=/%09/evil.example/", data={"mode": "pin", "username": CASHIER[0],
                                                                   "pin": CASHIER[1]})
    assert response.headers["Location"] == "/pos"


def test_login_follows_a_next_path_on_this_server(client):
    response = client.post("/login", query_string={"next": "/pos/sales?date=2026-12-01"},
                           data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert response.headers["Location"] == "/pos/sales?date=2026-12-01"


def test_an_admin_with_a_pin_cannot_log_in_by_pin(client, app):
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == ADMIN[0])).set_pin("9753")
        db.session.commit()
    response = client.post("/login", data={"mode": "pin", "username": ADMIN[0], "pin": "9753"})
    assert response.status_code == 401 and "PIN salah" in response.get_data(as_text=True)
    assert client.get("/admin").status_code == 302


def fail_logins(client, username, count, mode="password"):
    field = "pin" if mode == "pin" else "password"
    return [client.post("/login", data={"mode": mode, "username": username, field: "salah-0000"}) for _ in range(count)]


def test_five_failed_logins_lock_the_account_for_a_minute_with_a_clear_message(client, app):
    answers = fail_logins(client, CASHIER[0], 5, mode="pin")
    assert [answer.status_code for answer in answers] == [401] * 5
    assert "PIN salah" in answers[3].get_data(as_text=True)
    assert "Coba lagi dalam 1 menit" in answers[4].get_data(as_text=True)
    locked = client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]})
    assert locked.status_code == 401 and "Terlalu banyak percobaan" in locked.get_data(as_text=True)
    assert client.get("/pos").status_code == 302
    with app.app_context():
        entry = db.session.scalar(db.select(AuditLog).where(AuditLog.action == "LoginLocked"))
        assert entry.target == CASHIER[0] and "minutes=1" in entry.detail


def test_the_lock_ends_after_its_time_and_a_success_forgets_the_failures(client, app, monkeypatch):
    fail_logins(client, CASHIER[0], 5, mode="pin")
    later = clock.utcnow() + timedelta(minutes=1, seconds=1)
    monkeypatch.setattr(auth_service, "utcnow", lambda: later)
    assert client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]}).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(LoginFailure)) is None


def test_each_failure_after_a_lock_doubles_it_up_to_fifteen_minutes(client, app, monkeypatch):
    now = clock.utcnow()
    monkeypatch.setattr(auth_service, "utcnow", lambda: now)
    fail_logins(client, ADMIN[0], 5)
    minutes = []
    for _ in range(6):
        with app.app_context():
            now = db.session.get(LoginFailure, ADMIN[0]).locked_until + timedelta(seconds=1)
        answer = fail_logins(client, ADMIN[0], 1)[0].get_data(as_text=True)
        minutes.append(int(re.search(r"Coba lagi dalam (\d+) menit", answer).group(1)))
    assert minutes == [2, 4, 8, 15, 15, 15]


def test_a_lockout_says_the_same_for_a_username_that_does_not_exist(client):
    real = fail_logins(client, ADMIN[0], 6)
    made_up = fail_logins(client, "tidak-ada", 6)
    for answers in (real, made_up):
        assert [answer.status_code for answer in answers] == [401] * 6
        assert "Nama pengguna atau kata sandi salah" in answers[3].get_data(as_text=True)
        assert "Coba lagi dalam 1 menit" in answers[4].get_data(as_text=True)
        assert "Coba lagi dalam 1 menit" in answers[5].get_data(as_text=True)


def test_a_failed_login_count_is_kept_per_username(client):
    fail_logins(client, ADMIN[0], 5)
    assert client.post("/login", data={"mode": "pin", "username": CASHIER[0], "pin": CASHIER[1]}).status_code == 302
