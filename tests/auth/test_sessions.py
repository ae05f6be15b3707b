"""Sessions are revocable (issue 21 #3): logout, a new PIN or password, deactivation and "Keluar dari semua
perangkat" end every copy of a user's session cookie, the till's 1-second status poll included."""
import re

import pytest

from kasir.extensions import db
from kasir.models import AuditLog, User
from support.client import is_nothing_new
from support.config import ADMIN, CASHIER


def copy_of(app, client, register="1"):
    """Another browser holding a copy of `client`'s session cookie (and its register cookie)."""
    other = app.test_client()
    name = app.config["SESSION_COOKIE_NAME"]
    other.set_cookie(name, client.get_cookie(name).value)
    other.set_cookie("kasir_register", register)
    return other


def logged_in(client, path="/pos") -> bool:
    return client.get(path).status_code == 200


def open_qr(client) -> str:
    client.post("/pos/cart/scan", data={"q": "SKU0001"}, headers={"HX-Request": "true"})
    modal = client.post("/pos/checkout/qris", headers={"HX-Request": "true"}).get_data(as_text=True)
    return re.search(r'data-payment="([0-9a-f-]+)"', modal).group(1)


def test_a_copied_cookie_works_while_the_session_lasts(app, client, auth):
    auth.login_cashier()
    assert logged_in(copy_of(app, client))


def test_logout_ends_every_copy_of_the_cookie(app, client, auth):
    auth.login_cashier()
    copy = copy_of(app, client)
    auth.logout()
    assert not logged_in(copy)


def test_a_new_pin_set_by_the_admin_ends_the_cashiers_sessions(app, client, auth):
    auth.login_cashier()
    till = copy_of(app, client)
    auth.logout()
    auth.login_admin()
    cashier_id = db_user_id(app, CASHIER[0])
    assert client.post(f"/admin/users/{cashier_id}", data={"pin": "1357", "active": "1"}).status_code == 302
    assert not logged_in(till)


def test_a_password_change_ends_the_other_sessions_but_not_this_one(app, client, auth):
    auth.login_admin()
    other_device = copy_of(app, client)
    response = client.post("/account/password", data={"current_password": ADMIN[1], "new_password": "baru-sekali-9",
                                                      "repeat_password": "baru-sekali-9"})
    assert response.status_code == 302
    assert logged_in(client, "/admin") and not logged_in(other_device, "/admin")


def test_deactivating_ends_the_sessions_and_reactivating_does_not_bring_them_back(app, client, auth):
    auth.login_admin()
    cashier = app.test_client()
    auth_cashier = type(auth)(cashier)
    auth_cashier.login_cashier()
    cashier_id = db_user_id(app, CASHIER[0])
    client.post(f"/admin/users/{cashier_id}", data={"active": "0"})
    client.post(f"/admin/users/{cashier_id}", data={"active": "1"})
    assert not logged_in(cashier)
    auth_cashier.login_cashier()
    assert logged_in(cashier)


def test_the_admin_ends_every_session_of_a_user(app, client, auth):
    cashier = app.test_client()
    type(auth)(cashier).login_cashier()
    auth.login_admin()
    cashier_id = db_user_id(app, CASHIER[0])
    response = client.post(f"/admin/users/{cashier_id}/sessions/end")
    assert response.status_code == 302
    assert not logged_in(cashier) and logged_in(client, "/admin")
    assert "Keluar dari semua perangkat" in client.get(f"/admin/users/{cashier_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(AuditLog.target).where(AuditLog.action == "EndSessions")) == CASHIER[0]


def test_a_user_ends_their_own_sessions_everywhere(app, client, auth):
    auth.login_admin()
    other_device = copy_of(app, client)
    assert "Keluar dari semua perangkat" in client.get("/account/password").get_data(as_text=True)
    response = client.post("/account/sessions/end")
    assert response.headers["Location"] == "/login"
    assert not logged_in(client, "/admin") and not logged_in(other_device, "/admin")


@pytest.mark.parametrize("revoke", ["logout", "new_pin"])
def test_a_revoked_cookie_gets_no_status_poll(app, client, auth, revoke):
    auth.login_cashier()
    payment_id = open_qr(client)
    copy = copy_of(app, client)
    poll = f"/pos/payments/{payment_id}/status"
    assert copy.get(poll, headers={"HX-Request": "true"}).status_code == 200
    if revoke == "logout":
        auth.logout()
    else:
        with app.app_context():
            db.session.scalar(db.select(User).where(User.username == CASHIER[0])).set_pin("1357")
            db.session.commit()
    answer = copy.get(poll, headers={"HX-Request": "true"})
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_revoked_cookie_gets_no_unchanged_answer_either(app, client, auth):
    auth.login_cashier()
    client.post("/pos/cart/scan", data={"q": "SKU0001"}, headers={"HX-Request": "true"})
    modal = client.post("/pos/checkout/qris", headers={"HX-Request": "true"}).get_data(as_text=True)
    poll = re.search(r'id="qris-status"[^>]*hx-get="([^"]+)"', modal).group(1).replace("&amp;", "&")
    copy = copy_of(app, client)
    assert is_nothing_new(copy.get(poll, headers={"HX-Request": "true"}))
    auth.logout()
    answer = copy.get(poll, headers={"HX-Request": "true"})
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_status_poll_from_a_deactivated_cashier_asks_to_log_in(app, client, auth):
    auth.login_cashier()
    poll = f"/pos/payments/{open_qr(client)}/status"
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == CASHIER[0])).active = False
        db.session.commit()
    answer = client.get(poll, headers={"HX-Request": "true"})
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_forged_session_cookie_gets_no_status_poll(app, client, auth):
    auth.login_cashier()
    poll = f"/pos/payments/{open_qr(client)}/status"
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], "eyJfdXNlcl9pZCI6IjE6MCJ9.forged.signature")
    answer = client.get(poll, headers={"HX-Request": "true"})
    assert answer.status_code == 302 and "/login" in answer.headers["HX-Redirect"]


def test_a_cashier_who_must_change_the_password_gets_no_status_poll(app, client, auth):
    auth.login_cashier()
    poll = f"/pos/payments/{open_qr(client)}/status"
    with app.app_context():
        db.session.scalar(db.select(User).where(User.username == CASHIER[0])).must_change_password = True
        db.session.commit()
    answer = client.get(poll, headers={"HX-Request": "true"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/account/password"


def db_user_id(app, username) -> int:
    with app.app_context():
        return db.session.scalar(db.select(User.id).where(User.username == username))
