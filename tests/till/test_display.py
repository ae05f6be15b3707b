"""The customer display's 1-second poll: 204 while the version it shows is current, a weak ETag and 304
for clients that revalidate, the new state when it changed; only the till PC itself needs no token."""
import logging

import pytest

from kasir.extensions import db
from kasir.models import Register
from support.client import display_version_of

ELSEWHERE = {"REMOTE_ADDR": "192.0.2.10"}


def display_version(client) -> str:
    page = client.get("/display/1").get_data(as_text=True)
    return display_version_of(page)


def set_display_token(app, token: str) -> None:
    with app.app_context():
        db.session.scalar(db.select(Register).where(Register.code == "1")).display_token = token
        db.session.commit()


def test_an_unchanged_display_gets_204(client):
    assert client.get(f"/display/1/state?v={display_version(client)}").status_code == 204


def test_a_changed_display_gets_the_new_state(client):
    answer = client.get("/display/1/state?v=stale")
    assert answer.status_code == 200 and 'id="display-state"' in answer.get_data(as_text=True)


def test_the_state_carries_its_version_as_a_weak_etag(client):
    answer = client.get("/display/1/state")
    assert answer.headers["ETag"] == f'W/"{display_version(client)}"'


def test_a_revalidation_with_the_current_etag_gets_304(client):
    etag = client.get("/display/1/state").headers["ETag"]
    assert client.get("/display/1/state", headers={"If-None-Match": etag}).status_code == 304


def test_a_revalidation_with_an_old_etag_gets_the_new_state(client):
    answer = client.get("/display/1/state", headers={"If-None-Match": 'W/"0.1"'})
    assert answer.status_code == 200 and 'id="display-state"' in answer.get_data(as_text=True)


def test_an_unchanged_poll_is_not_an_info_log_line(client, caplog):
    version = display_version(client)
    with caplog.at_level(logging.INFO, logger="kasir.request"):
        caplog.clear()
        client.get(f"/display/1/state?v={version}")
    assert not [record for record in caplog.records if record.name == "kasir.request"]


def test_a_display_on_another_device_with_its_token_gets_204(app, client):
    set_display_token(app, "rahasia")
    version = display_version(client)
    assert client.get(f"/display/1/state?v={version}&token=rahasia", environ_base=ELSEWHERE).status_code == 204


def test_a_display_on_another_device_without_the_token_is_refused(client):
    version = display_version(client)
    assert client.get(f"/display/1/state?v={version}", environ_base=ELSEWHERE).status_code == 403


@pytest.mark.parametrize("token", ["rähasia", "%FF%FE", "ü" * 64])
def test_a_non_ascii_display_token_is_refused(app, client, token):
    set_display_token(app, "rahasia")
    version = display_version(client)
    assert client.get(f"/display/1/state?v={version}&token={token}", environ_base=ELSEWHERE).status_code == 403
    assert client.get(f"/display/1?token={token}", environ_base=ELSEWHERE).status_code == 403


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_a_display_on_this_pc_needs_no_token(client, address):
    version = display_version(client)
    assert client.get(f"/display/1/state?v={version}", environ_base={"REMOTE_ADDR": address}).status_code == 204
    assert client.get("/display/1", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["192.0.2.10", "::ffff:192.0.2.10", "10.0.0.1", "fe80::1", "not-an-address"])
def test_a_display_elsewhere_needs_its_token(client, address):
    assert client.get("/display/1", environ_base={"REMOTE_ADDR": address}).status_code == 403


def test_an_unknown_register_has_no_display(client):
    assert client.get("/display/9/state?v=0.0").status_code == 404


def test_a_post_to_the_poll_is_not_allowed(client):
    assert client.post("/display/1/state").status_code == 405
