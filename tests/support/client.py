"""Logging in through the Flask test client, as the login form does, and reading what a poll answers."""
import re

from support.config import ADMIN, CASHIER


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login_cashier(self, username=CASHIER[0], pin=CASHIER[1], register="1"):
        self._client.set_cookie("kasir_register", register)
        return self._client.post("/login", data={"mode": "pin", "username": username, "pin": pin})

    def login_admin(self, username=ADMIN[0], password=ADMIN[1]):
        return self._client.post("/login", data={"mode": "password", "username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


def is_nothing_new(response) -> bool:
    """A poll's "nothing new" answer (kasir.web.nothing_new): empty, and htmx swaps nothing."""
    return response.status_code == 200 and response.headers.get("HX-Reswap") == "none" and response.get_data() == b""


def display_version_of(page: str) -> str:
    """The version a customer display's page or state holds (its `data-version`), which its next poll sends."""
    return re.search(r'data-version="([^"]+)"', page).group(1)
