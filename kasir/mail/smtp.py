"""Talking to the shop's SMTP server with the standard library: connect, secure, log in, send.

Every failure comes out as MailError with a reason in Indonesian for the admin (server unreachable, login
refused, TLS failed, address refused) and whether a later try may succeed. The reason never carries the
exception's text, the password or the customer's address.
"""
import smtplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage

from .settings import SmtpSettings

TIMEOUT_SECONDS = 15

UNREACHABLE = "Server email tidak bisa dihubungi. Periksa host dan port."
UNKNOWN_HOST = "Host server email tidak ditemukan. Periksa nama host."
TLS_FAILED = "Koneksi aman (TLS) ke server email gagal. Periksa pilihan keamanan dan port."
NO_STARTTLS = "Server email tidak mendukung STARTTLS. Pilih keamanan lain atau periksa port."
LOGIN_REFUSED = "Login ke server email ditolak. Periksa nama pengguna dan kata sandi."
NO_AUTH = "Server email tidak menerima login. Kosongkan nama pengguna atau periksa port dan keamanan."
DISCONNECTED = "Server email memutus koneksi."
RECIPIENT_REFUSED = "Alamat penerima ditolak server email."
SENDER_REFUSED = "Alamat pengirim ditolak server email. Periksa alamat pengirim di pengaturan."


class MailError(Exception):
    def __init__(self, message: str, temporary: bool = True):
        super().__init__(message)
        self.message = message
        self.temporary = temporary


def _refused(code: int, permanent_reason: str) -> MailError:
    if 500 <= code < 600:
        return MailError(f"{permanent_reason} (kode {code})", temporary=False)
    return MailError(f"Server email menolak sementara (kode {code}); dicoba lagi nanti.")


def _describe(exc: Exception, step: str) -> MailError:
    """The Indonesian reason for an exception raised at `step` (connect, tls, login, send)."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailError(LOGIN_REFUSED)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError(NO_STARTTLS if step == "tls" else NO_AUTH)
    if isinstance(exc, ssl.SSLError):
        return MailError(TLS_FAILED)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()] or [550]
        return _refused(max(codes), RECIPIENT_REFUSED)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _refused(exc.smtp_code, SENDER_REFUSED)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return MailError(TLS_FAILED if step == "tls" else DISCONNECTED)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _refused(exc.smtp_code, "Server email menolak pesan")
    if isinstance(exc, socket.gaierror):
        return MailError(UNKNOWN_HOST)
    return MailError(TLS_FAILED if step == "tls" else UNREACHABLE)


@contextmanager
def session(settings: SmtpSettings) -> Iterator[smtplib.SMTP]:
    """A connected, secured and logged-in SMTP client; MailError with the reason when any step fails."""
    step = "connect"
    client = None
    try:
        if settings.security == "ssl":
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_SECONDS,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_SECONDS)
        client.ehlo()
        if settings.security == "starttls":
            step = "tls"
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if settings.username:
            step = "login"
            client.login(settings.username, settings.password)
        step = "send"
        yield client
    except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and socket errors are OSErrors
        raise _describe(exc, step) from None
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def check(settings: SmtpSettings) -> None:
    """Admin's "Tes Koneksi": connect, secure and log in, send nothing; MailError says what failed."""
    with session(settings):
        pass


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    with session(settings) as client:
        client.send_message(message)
