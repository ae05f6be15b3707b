"""Rupiah amounts are integers. Parse what people type, print it the Indonesian way."""
import re


class MoneyError(ValueError):
    """Input that is not a whole, non-negative rupiah amount; the message is for the user."""


_GROUPED = re.compile(r"\d{1,3}(\.\d{3})+")
_PLAIN = re.compile(r"\d+")


def parse_rupiah(text: str | int | None, *, allow_zero: bool = True) -> int:
    """Accept 15000, "15000", "15.000", "Rp 15.000", "Rp15.000,00"; reject fractions and negatives."""
    if isinstance(text, bool):
        raise MoneyError("Nominal tidak valid.")
    if isinstance(text, int):
        value = text
    else:
        cleaned = (text or "").strip()
        cleaned = re.sub(r"^rp\.?\s*", "", cleaned, flags=re.IGNORECASE).replace(" ", "")
        if not cleaned:
            raise MoneyError("Nominal wajib diisi.")
        if cleaned.startswith("-"):
            raise MoneyError("Nominal tidak boleh negatif.")
        whole, comma, fraction = cleaned.partition(",")
        if comma and fraction.strip("0"):
            raise MoneyError("Nominal harus bilangan bulat rupiah (tanpa sen).")
        if comma and not fraction:
            raise MoneyError("Nominal tidak valid.")
        if _GROUPED.fullmatch(whole):
            whole = whole.replace(".", "")
        elif not _PLAIN.fullmatch(whole):
            raise MoneyError("Nominal tidak valid. Contoh: 15000 atau 15.000.")
        value = int(whole)
    if value < 0:
        raise MoneyError("Nominal tidak boleh negatif.")
    if value == 0 and not allow_zero:
        raise MoneyError("Nominal harus lebih dari 0.")
    if value > 999_999_999_999:
        raise MoneyError("Nominal terlalu besar.")
    return value


def format_rupiah(amount: int | None) -> str:
    """15000 -> "Rp 15.000"; -2500 -> "-Rp 2.500"."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp {abs(amount):,}".replace(",", ".")


def format_number(amount: int) -> str:
    """15000 -> "15.000" (receipts and tight columns)."""
    return f"{amount:,}".replace(",", ".")


def format_percent(ratio: float | None) -> str:
    """0.8 -> "80%"; 0.6667 -> "66,7%"; None (nothing to divide) -> "–"."""
    if ratio is None:
        return "–"
    text = f"{ratio * 100:.1f}".replace(".", ",")
    return (text[:-2] if text.endswith(",0") else text) + "%"
