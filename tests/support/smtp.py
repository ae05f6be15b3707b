"""A real SMTP server on loopback (aiosmtpd): it keeps what it received, can require a login, and can answer
each message with a scripted refusal first."""
import logging
from collections import deque
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kasir.extensions import db
from kasir.mail import settings as mail_settings
from support.live import free_port

SMTP_LOGIN = ("struk@toko.example.id", "sandi-smtp-rahasia-2026")
# aiosmtpd logs a deprecation of its own on every AUTH (Session.login_data): not ours to fix.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, _smtp, _session, envelope):
        if self.server.refusals:
            return self.server.refusals.popleft()
        self.server.received.append(message_from_bytes(envelope.original_content, policy=policy.default))
        self.server.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


class SmtpServer:
    """`received` holds the parsed messages; `refusals` the answers given to the next messages instead of 250
    (e.g. "451 4.3.0 Coba lagi"); with `login` the server takes only that user and password (AUTH without
    TLS: loopback only)."""

    def __init__(self, login: tuple[str, str] | None = None):
        self.port = free_port()
        self.login = login
        self.received: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refusals: deque[str] = deque()
        self.logins: list[str] = []
        kwargs = {"authenticator": self._authenticate, "auth_require_tls": False} if login else {}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, _server, _session, _envelope, _mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append(auth_data.login.decode())
        ok = (auth_data.login.decode(), auth_data.password.decode()) == self.login
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


def save_smtp(app, port: int, **values) -> None:
    """The shop's SMTP settings, saved as admin's form would: loopback, no TLS, SMTP_LOGIN, a sender."""
    form = {"host": "127.0.0.1", "port": str(port), "security": "none", "username": SMTP_LOGIN[0],
            "password": SMTP_LOGIN[1], "sender_address": "struk@toko.example.id", "sender_name": "Toko Contoh",
            **values}
    with app.test_request_context():
        mail_settings.save(form)
        db.session.commit()
