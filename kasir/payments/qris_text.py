"""Text for the merchant fields of a QRIS (DESIGN §5, contracts/qris.md): clean, within limits, and
the city an Indonesian address ends with.

QRIS limits the merchant name (tag 59) to 25 characters and the city (tag 60) to 15.
"""
import html
import re
import unicodedata

NAME_LIMIT = 25
CITY_LIMIT = 15
MISSING_CITY = "BELUM DIISI"  # what a simulated QR says while admin has not given the city
_MARKUP = re.compile(r"<[^>]*>")
_REGION_PREFIX = re.compile(r"^(kota|kab\.?|kabupaten)\s+", re.IGNORECASE)
_NOT_A_CITY = re.compile(r"^(jl|jln|jalan|gg|gang|no|rt|rw|kel|kec|desa|ds|blok|komp|perum|ruko)\b\.?",
                         re.IGNORECASE)
PROVINCES = frozenset({
    "aceh", "sumatera utara", "sumatera barat", "riau", "kepulauan riau", "jambi", "sumatera selatan",
    "bangka belitung", "kepulauan bangka belitung", "bengkulu", "lampung", "dki jakarta", "jawa barat", "banten",
    "jawa tengah", "di yogyakarta", "diy", "jawa timur", "bali", "nusa tenggara barat", "ntb", "nusa tenggara timur",
    "ntt", "kalimantan barat", "kalimantan tengah", "kalimantan selatan", "kalimantan timur", "kalimantan utara",
    "sulawesi utara", "gorontalo", "sulawesi tengah", "sulawesi barat", "sulawesi selatan", "sulawesi tenggara",
    "maluku", "maluku utara", "papua", "papua barat", "papua barat daya", "papua tengah", "papua pegunungan",
    "papua selatan", "indonesia",
})


def plain_text(value: str) -> str:
    """Text fit for a QR field: no markup, no control or invisible characters, single spaces."""
    without_markup = html.unescape(_MARKUP.sub(" ", value or ""))
    printable = "".join(" " if unicodedata.category(char).startswith(("C", "Z")) else char
                        for char in without_markup)
    return " ".join(printable.replace("<", " ").replace(">", " ").split())


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut after the last whole word that fits."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0] if " " in text[:limit + 1] else ""
    return (cut or text[:limit]).rstrip()


def city_from_address(address: str) -> str:
    """The city at the end of an Indonesian address ("Jl. Merdeka No. 17, Depok" → "DEPOK"), or ""
    when the address does not name one that fits QRIS's 15 characters."""
    parts = [" ".join(re.sub(r"\b\d{5}\b", " ", part).split()) for part in plain_text(address).split(",")]
    parts = [part for part in parts if part][1:]  # the first part is the street
    for part in parts:
        if _REGION_PREFIX.match(part):
            return _city(_REGION_PREFIX.sub("", part))
    for part in reversed(parts):
        if part.lower() not in PROVINCES:
            return _city(part)
    return ""


def _city(text: str) -> str:
    text = text.strip().upper()
    if _NOT_A_CITY.match(text) or not 0 < len(text) <= CITY_LIMIT or not all(c.isalpha() or c in " .-" for c in text):
        return ""
    return text


# What a QrisError (English, for developers) means to the shop owner who pasted their QRIS, first match wins.
_QRIS_PROBLEMS = (
    (re.compile(r"payload is empty"), "teksnya kosong"),
    (re.compile(r"dynamic"), "ini QRIS dinamis (sekali pakai); tempel QRIS statis yang tercetak di toko"),
    (re.compile(r"CRC mismatch|tag 63 \(CRC\) must"),
     "kode pemeriksa di akhir (CRC) tidak cocok; teks QR mungkin salah salin atau terpotong"),
    (re.compile(r"runs past the end|truncated field"), "teks QR terpotong; salin ulang seluruhnya"),
    (re.compile(r"expected a two-digit tag|cannot be encoded|must be a str"),
     "bukan teks QRIS; pindai QR dengan aplikasi pembaca QR lalu tempel teksnya"),
    (re.compile(r"tag 53 .*360|tag 58 .*'ID'"), "bukan QRIS Indonesia (mata uang atau negara lain)"),
    (re.compile(r"missing merchant account"), "data akun merchant (tag 26–51) tidak ada"),
    (re.compile(r"missing mandatory tag (\d\d)"), "bagian wajib tag {0} tidak ada"),
    (re.compile(r"tag (\d\d).*longer than (\d+)"), "isi tag {0} lebih dari {1} karakter"),
    (re.compile(r"duplicate tag (\d\d)"), "tag {0} muncul dua kali"),
)


def describe_qris_error(error: Exception) -> str:
    """A QrisError in Indonesian words, for the admin who pasted the payload or the cashier who sees it."""
    text = str(error)
    for pattern, meaning in _QRIS_PROBLEMS:
        if match := pattern.search(text):
            return meaning.format(*match.groups())
    return "formatnya tidak sesuai standar QRIS"
