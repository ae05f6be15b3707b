"""The e-mail outbox: a receipt the cashier sends to a customer's address is queued here and sent by a job.

`enqueue` only adds a row (the till never waits on a mail server); `deliver_due` (kasir.jobs, its own lane)
claims due rows one at a time with kasir.claims, sends each through kasir.mail.smtp, retries a temporary
failure by RETRY_DELAYS and then gives up: the row ends SENT, or FAILED with the reason in Indonesian,
which admin's "Struk Digital" page and the home page's "Perlu perhatian" show. Logs carry the customer's
address masked.
"""
import functools
import logging
from datetime import timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import render_template

from .. import claims
from ..clock import utcnow
from ..database import write_transaction
from ..extensions import db
from ..models import EMAIL_FAILED, EMAIL_QUEUED, EMAIL_SENT, EmailOutbox, Sale
from ..printing.ereceipt import PUBLIC_URL_KEY, public_receipt_url, receipt_text
from ..printing.layout import build_receipt
from ..printing.settings import printer_settings
from ..settings import get_setting, shop_profile
from . import settings as mail_settings
from . import smtp
from .settings import SmtpSettings, clean_address, mask_address

log = logging.getLogger(__name__)

# The wait after each failed try: six tries over about two and a half hours, then FAILED.
RETRY_DELAYS = tuple(timedelta(seconds=seconds) for seconds in (30, 120, 600, 1800, 7200))
# A claimed row is hidden from other runs this long, should its send never come back (a crash mid-send).
CLAIM_LEASE = timedelta(minutes=5)
# The same address for the same sale again within this window (a double tap) is the mail already queued.
REPEAT_WINDOW = timedelta(minutes=10)
FAILED_SHOWN_FOR = timedelta(days=7)
SYSTEM_ERROR = "Email gagal disusun karena kesalahan sistem; lihat log server."


def enqueue(sale: Sale, typed_address: str) -> EmailOutbox:
    """Queue the sale's receipt to the typed address (AddressError in Indonesian when it is not one). The same
    address for the same sale within REPEAT_WINDOW returns the row already queued or sent: one mail."""
    address = clean_address(typed_address)
    sale_id = sale.id
    with write_transaction():
        # Taps for one sale take turns (PostgreSQL row lock; SQLite's write lock is already held).
        db.session.execute(db.select(Sale.id).where(Sale.id == sale_id).with_for_update())
        row = db.session.scalar(db.select(EmailOutbox).where(
            EmailOutbox.sale_id == sale_id, db.func.lower(EmailOutbox.recipient) == address.lower(),
            EmailOutbox.status != EMAIL_FAILED, EmailOutbox.created_at >= utcnow() - REPEAT_WINDOW))
        if row is None:
            row = EmailOutbox(sale_id=sale_id, recipient=address, status=EMAIL_QUEUED, attempts=0,
                              next_attempt_at=utcnow())
            db.session.add(row)
            log.info("receipt e-mail for sale %s queued to %s", sale_id, mask_address(address))
    return row


def compose(sale: Sale, recipient: str, settings: SmtpSettings) -> EmailMessage:
    """The receipt as a mail: the WhatsApp text as the plain body, a lean HTML copy, the e-receipt link when the
    shop has a public address."""
    shop = shop_profile()
    receipt = build_receipt(sale, shop, printer_settings().width_mm)
    receipt_url = public_receipt_url(get_setting(PUBLIC_URL_KEY), sale.receipt_token)
    text = receipt_text(receipt) + (f"\n\nStruk digital: {receipt_url}\n" if receipt_url else "\n")
    message = EmailMessage()
    message["Subject"] = f"Struk belanja {shop['shop_name']} {sale.display_number}"
    message["From"] = Address(display_name=settings.sender_name or shop["shop_name"],
                              addr_spec=settings.sender_address)
    message["To"] = recipient
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=settings.sender_address.rpartition("@")[2])
    message.set_content(text)
    message.add_alternative(render_template("printing/email_receipt.html", receipt=receipt, sale=sale,
                                            receipt_url=receipt_url), subtype="html")
    return message


def trial_message(settings: SmtpSettings, recipient: str) -> EmailMessage:
    """Admin's "Kirim Email Uji": a short mail proving the settings deliver."""
    shop_name = shop_profile()["shop_name"]
    message = EmailMessage()
    message["Subject"] = f"Email uji {shop_name}"
    message["From"] = Address(display_name=settings.sender_name or shop_name, addr_spec=settings.sender_address)
    message["To"] = clean_address(recipient)
    message["Date"] = format_datetime(utcnow())
    message.set_content(f"Pengaturan email {shop_name} berhasil. Struk pelanggan akan dikirim dari alamat ini.\n")
    return message


def _claim_next() -> list[int]:
    """The next due mail, its try counted and leased to this run (its id, or none)."""
    now = utcnow()

    def attempt(row: EmailOutbox) -> None:
        row.attempts += 1
        row.next_attempt_at = now + CLAIM_LEASE

    return claims.claim(db.select(EmailOutbox).where(EmailOutbox.status == EMAIL_QUEUED,
                                                     EmailOutbox.next_attempt_at <= now)
                        .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id).limit(1), attempt)


def _record_outcome(row_id: int, error: str | None, temporary: bool) -> None:
    with write_transaction():
        row = db.session.get(EmailOutbox, row_id, populate_existing=True)
        now = utcnow()
        if error is None:
            row.status, row.sent_at, row.next_attempt_at, row.last_error = EMAIL_SENT, now, None, None
        elif not temporary or (delay := claims.backoff(RETRY_DELAYS, row.attempts)) is None:
            row.status, row.next_attempt_at, row.last_error = EMAIL_FAILED, None, error[:200]
        else:
            row.next_attempt_at, row.last_error = now + delay, error[:200]


def _send_claimed(row: EmailOutbox, settings: SmtpSettings) -> int:
    row_id, attempt, masked = row.id, row.attempts, mask_address(row.recipient)
    temporary = True
    try:
        message = compose(row.sale, row.recipient, settings)
        db.session.commit()  # end the read before waiting on the mail server
        smtp.send(settings, message)
    except smtp.MailError as exc:
        log.warning("receipt e-mail %s to %s failed (try %s): %s", row_id, masked, attempt, exc.message)
        error, temporary = exc.message, exc.temporary
    except Exception:  # a mail that cannot be built must not stall the ones behind it
        db.session.rollback()
        log.exception("receipt e-mail %s could not be composed", row_id)
        error = SYSTEM_ERROR
    else:
        log.info("receipt e-mail %s sent to %s", row_id, masked)
        error = None
    _record_outcome(row_id, error, temporary)
    return int(error is None)


def deliver_due(limit: int = 10) -> int:
    """The job: send up to `limit` due mails, claiming each just before it is sent; returns how many were sent.
    Without SMTP settings the mails wait, queued."""
    settings = mail_settings.load()
    db.session.rollback()  # ends the settings read without a commit (which would clear kasir.poll_cache)
    if not settings.configured:
        return 0
    sent = 0
    for _ in range(limit):
        claimed = _claim_next()
        if not claimed:
            break
        sent += claims.each(EmailOutbox, claimed, functools.partial(_send_claimed, settings=settings))
    return sent


def troubled(limit: int = 10) -> list[EmailOutbox]:
    """Mails that failed for good, or are retrying after a failed try, within FAILED_SHOWN_FOR: newest first."""
    retrying = (EmailOutbox.status == EMAIL_QUEUED) & EmailOutbox.last_error.is_not(None)
    return list(db.session.scalars(
        db.select(EmailOutbox).where((EmailOutbox.status == EMAIL_FAILED) | retrying,
                                     EmailOutbox.created_at >= utcnow() - FAILED_SHOWN_FOR)
        .order_by(EmailOutbox.id.desc()).limit(limit)))


def failed_count() -> int:
    return db.session.scalar(db.select(db.func.count(EmailOutbox.id)).where(
        EmailOutbox.status == EMAIL_FAILED, EmailOutbox.created_at >= utcnow() - FAILED_SHOWN_FOR))
