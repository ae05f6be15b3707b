"""E-receipts sent from the till: the receipt as text in a WhatsApp link (wa.me) to a number the cashier types."""
import re
from urllib.parse import quote

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


def whatsapp_link(receipt: Receipt, phone: str) -> str:
    """wa.me link that opens a chat with `phone`, the receipt's lines as the message."""
    text = "\n".join(line.text.rstrip() for line in receipt.lines)
    return f"https://wa.me/{whatsapp_number(phone)}?text={quote(text, safe='')}"
