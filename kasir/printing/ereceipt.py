"""E-receipts sent from the till: the receipt as text in a WhatsApp link (wa.me) to a number the cashier types
(the same text is the body of an e-mailed receipt, kasir.mail.outbox)."""
import re
from urllib.parse import quote, urlsplit

from .layout import Receipt


class PhoneError(ValueError):
    """The number is not a usable WhatsApp number; the message is shown to the cashier."""


def whatsapp_number(text: str) -> str:
    """An Indonesian mobile number as wa.me wants it: digits with the country code (08… and +62… become 62…)."""
    digits = re.sub(r"[\s\-().]", "", text or "")
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("0"):
        digits = "62" + digits[1:]
    if not digits.isascii() or not digits.isdigit() or not 10 <= len(digits) <= 15:
        raise PhoneError("Nomor WhatsApp tidak valid. Contoh: 0812 3456 7890.")
    return digits


def receipt_text(receipt: Receipt) -> str:
    """The receipt as plain text, one printed line per line: a WhatsApp message or an e-mail's body."""
    return "\n".join(line.text.rstrip() for line in receipt.lines)


def whatsapp_link(receipt: Receipt, phone: str) -> str:
    """wa.me link that opens a chat with `phone`, the receipt's lines as the message."""
    return f"https://wa.me/{whatsapp_number(phone)}?text={quote(receipt_text(receipt), safe='')}"


PUBLIC_URL_KEY = "public_base_url"


class PublicUrlError(ValueError):
    """The shop's public address is not a usable http(s) URL; the message is shown to the admin."""


def clean_public_url(text: str) -> str:
    """The shop's public base URL as stored: empty (no e-receipt QR) or an http(s) URL without a trailing slash."""
    url = (text or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a bad port raises ValueError)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
            or parts.username or not url.isascii() or any(char.isspace() for char in url) or len(url) > 200):
        raise PublicUrlError("Alamat publik toko tidak valid. Contoh: https://toko.example.id")
    return url.rstrip("/")


def public_receipt_url(base_url: str, token: str | None) -> str | None:
    """Where a customer's phone opens the e-receipt (`<base>/r/<token>`); None without a public address or token."""
    if not base_url or not token:
        return None
    return f"{base_url}/r/{token}"
