"""QRIS payloads (EMVCo merchant-presented mode, as Bank Indonesia uses it): parse, build, make dynamic.

Pure Python, no Flask. A payload is a run of TLV fields: a two-digit tag, a two-digit length that
counts characters, then the value. Templates (26-51, 62, 64) nest the same format. Tag 63 is always
last and holds CRC-16/CCITT-FALSE of the UTF-8 bytes of everything up to and including "6304".
We always work on parsed fields, never on the raw text: searching for "6304" or "010211" in the
string breaks as soon as those characters occur inside another value.
"""
from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Union

__all__ = ["Qris", "QrisError", "build", "crc16", "parse", "to_dynamic"]

# What build() accepts: a raw string, or nested tags (a template) that get serialized recursively.
TagValue = Union[str, Mapping[str, "TagValue"], Iterable[tuple[str, "TagValue"]]]
Tags = Union[Mapping[str, TagValue], Iterable[tuple[str, TagValue]]]

STATIC, DYNAMIC = "11", "12"
CRC_HEADER = "6304"
MAX_AMOUNT_DIGITS = 13
MERCHANT_ACCOUNT_TAGS = frozenset(f"{number:02d}" for number in range(26, 52))
TEMPLATE_TAGS = MERCHANT_ACCOUNT_TAGS | {"62", "64"}
TIP_TAGS = frozenset({"55", "56", "57"})

_NAMES = {
    "00": "payload format indicator", "01": "point of initiation method",
    "52": "merchant category code", "53": "transaction currency", "54": "transaction amount",
    "55": "tip indicator", "56": "fixed fee", "57": "percentage fee", "58": "country code",
    "59": "merchant name", "60": "merchant city", "61": "postal code", "62": "additional data",
    "63": "CRC",
}
_MANDATORY = ("00", "01", "52", "53", "58", "59", "60", "63")
_MAX_LENGTH = {"54": 13, "56": 13, "57": 5, "59": 25, "60": 15, "61": 10}
_ADDITIONAL_DATA_MAX = 25  # every sub-tag of 62
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits only: no sign, exponent or spaces


class QrisError(ValueError):
    """The payload, or the data given to build one, is not a valid QRIS."""


def crc16(data: str) -> str:
    """CRC-16/CCITT-FALSE of the UTF-8 bytes of `data`, as four uppercase hex digits."""
    # crc_hqx is polynomial 0x1021, unreflected, no final xor; seeding it with 0xFFFF gives CCITT-FALSE.
    return f"{binascii.crc_hqx(data.encode('utf-8'), 0xFFFF):04X}"


def _label(tag: str) -> str:
    return f"tag {tag} ({_NAMES[tag]})" if tag in _NAMES else f"tag {tag}"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise QrisError(message)


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # isdigit() alone accepts "²" and Arabic-Indic digits


def _split_tlv(text: str, where: str) -> dict[str, str]:
    """Walk `text` field by field into an ordered dict; `where` names the place for error messages."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        header = text[position:position + 4]
        _require(len(header) == 4, f"{where}: truncated field at position {position}")
        tag, length = header[:2], header[2:]
        _require(_is_digits(tag) and _is_digits(length),
                 f"{where}: expected a two-digit tag and length at position {position}, got {header!r}")
        _require(int(length) > 0, f"{where}: tag {tag} has an empty value")
        end = position + 4 + int(length)
        _require(end <= len(text), f"{where}: tag {tag} length {length} runs past the end of the data")
        _require(tag not in fields, f"{where}: duplicate tag {tag}")
        fields[tag] = text[position + 4:end]
        position = end
    return fields


def _parse_amount(value: str, tag: str) -> int:
    """Rupiah amounts are whole: accept "15000" and "15000.00", reject fractions and non-numbers."""
    _require(_DECIMAL.fullmatch(value) is not None and len(value) <= _MAX_LENGTH[tag],
             f"{_label(tag)} must be plain digits, at most {_MAX_LENGTH[tag]} characters, got {value!r}")
    whole, _, fraction = value.partition(".")
    _require(fraction.strip("0") == "", f"{_label(tag)} has a fraction, rupiah amounts are whole: {value!r}")
    _require(int(whole) > 0, f"{_label(tag)} must be greater than zero")
    return int(whole)


@dataclass(frozen=True)
class Qris:
    """A validated payload; create it with parse()."""

    tags: Mapping[str, str]  # root tag -> raw value, in payload order (templates left unparsed)

    def __hash__(self) -> int:
        return hash(tuple(self.tags.items()))

    @property
    def is_dynamic(self) -> bool:
        return self.tags["01"] == DYNAMIC

    @property
    def amount(self) -> int | None:
        return _parse_amount(self.tags["54"], "54") if "54" in self.tags else None

    @property
    def merchant_name(self) -> str:
        return self.tags["59"]

    @property
    def merchant_city(self) -> str:
        return self.tags["60"]

    @property
    def nmid(self) -> str | None:
        """The national merchant id: sub-tag 02 of the QRIS template 51."""
        return (self.nested("51") or {}).get("02")

    @property
    def crc(self) -> str:
        return self.tags["63"]

    def nested(self, tag: str) -> dict[str, str] | None:
        """Sub-tags of template `tag` (26-51, 62, 64), or None when the payload has no such tag."""
        _require(tag in TEMPLATE_TAGS, f"tag {tag!r} is not a template")
        return _split_tlv(self.tags[tag], f"tag {tag}") if tag in self.tags else None


def parse(payload: str) -> Qris:
    """Validate `payload` and return its fields; raise QrisError saying what is wrong."""
    _require(isinstance(payload, str), f"payload must be a str, got {type(payload).__name__}")
    _require(payload != "", "payload is empty")
    _require(all(not "\ud800" <= char <= "\udfff" for char in payload),
             "payload contains characters that cannot be encoded as UTF-8")
    tags = _split_tlv(payload, "payload")
    _check_crc(payload, tags)
    for tag in _MANDATORY:
        _require(tag in tags, f"missing mandatory {_label(tag)}")
    _require(not MERCHANT_ACCOUNT_TAGS.isdisjoint(tags), "missing merchant account information (tags 26-51)")
    _check_fields(tags)
    for tag in TEMPLATE_TAGS.intersection(tags):
        _check_template(tag, _split_tlv(tags[tag], f"tag {tag}"))
    return Qris(MappingProxyType(tags))


def _check_crc(payload: str, tags: dict[str, str]) -> None:
    _require("63" in tags, f"missing mandatory {_label('63')}")
    # Walking the TLV found 63, so "last field" is the only place it can be: len - 8.
    _require(list(tags)[-1] == "63", "tag 63 (CRC) must be the last field")
    _require(len(tags["63"]) == 4, "tag 63 (CRC) must have length 04")
    expected = crc16(payload[:-4])
    _require(tags["63"] == expected, f"CRC mismatch: payload says {tags['63']!r}, computed {expected!r}")


def _check_fields(tags: dict[str, str]) -> None:
    _require(next(iter(tags)) == "00", "tag 00 (payload format indicator) must be the first field")
    _require(tags["00"] == "01", f"{_label('00')} must be '01', got {tags['00']!r}")
    _require(tags["01"] in (STATIC, DYNAMIC), f"{_label('01')} must be '11' or '12', got {tags['01']!r}")
    _require(len(tags["52"]) == 4 and _is_digits(tags["52"]), f"{_label('52')} must be 4 digits")
    _require(tags["53"] == "360", f"{_label('53')} must be 360 (IDR) for Indonesia, got {tags['53']!r}")
    _require(tags["58"] == "ID", f"{_label('58')} must be 'ID', got {tags['58']!r}")
    for tag, limit in _MAX_LENGTH.items():
        _require(len(tags.get(tag, "")) <= limit, f"{_label(tag)} is longer than {limit} characters")
    for tag in ("54", "56"):
        if tag in tags:
            _parse_amount(tags[tag], tag)
    _check_tip(tags)


def _check_tip(tags: dict[str, str]) -> None:
    indicator = tags.get("55")
    _require(indicator in (None, "01", "02", "03"), f"{_label('55')} must be 01, 02 or 03, got {indicator!r}")
    # A fee needs its indicator and an indicator that announces a fee needs the fee.
    _require(("56" in tags) == (indicator == "02"), "tag 56 (fixed fee) goes with tip indicator 55 = 02, only")
    _require(("57" in tags) == (indicator == "03"), "tag 57 (percentage fee) goes with tip indicator 55 = 03, only")
    if "57" in tags:
        percentage = tags["57"]
        _require(_DECIMAL.fullmatch(percentage) is not None and any(c in "123456789" for c in percentage),
                 f"{_label('57')} must be a positive number, got {percentage!r}")


def _check_template(tag: str, fields: dict[str, str]) -> None:
    if tag in MERCHANT_ACCOUNT_TAGS and "03" in fields:
        _require(len(fields["03"]) == 3, f"tag {tag}: merchant criteria (03) must be 3 characters")
    if tag == "62":
        for sub_tag, value in fields.items():
            _require(len(value) <= _ADDITIONAL_DATA_MAX,
                     f"tag 62: sub-tag {sub_tag} is longer than {_ADDITIONAL_DATA_MAX} characters")


def build(tags: Tags) -> str:
    """Serialize ordered tags (nested ones recursively), drop any tag 63 given, append a fresh CRC."""
    body = _serialize(tags, "payload", skip_crc=True) + CRC_HEADER
    return body + crc16(body)


def _serialize(tags: Tags, where: str, *, skip_crc: bool = False) -> str:
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    parts: list[str] = []
    seen: set[str] = set()
    for tag, value in pairs:
        _require(isinstance(tag, str) and len(tag) == 2 and _is_digits(tag),
                 f"{where}: tag {tag!r} is not a two-digit string")
        if skip_crc and tag == "63":
            continue  # the CRC is always recomputed
        _require(tag not in seen, f"{where}: duplicate tag {tag}")
        seen.add(tag)
        if isinstance(value, str):
            text = value
        else:
            _require(isinstance(value, (Mapping, list, tuple)),
                     f"{where}: tag {tag} must be a str or nested tags, got {type(value).__name__}")
            text = _serialize(value, f"tag {tag}")
        _require(1 <= len(text) <= 99, f"{where}: tag {tag} value has {len(text)} characters, allowed 1-99")
        parts.append(f"{tag}{len(text):02d}{text}")
    return "".join(parts)


def to_dynamic(payload: str, amount: int, *, keep_tip: bool = False) -> str:
    """Turn a valid QRIS into a dynamic one for exactly `amount` rupiah, keeping the merchant's identity.

    Tag 01 becomes 12; tag 54 is set (replacing any old one) in ascending tag order; a static QR's
    tip/fee tags 55-57 are dropped unless `keep_tip`; every other field keeps its value and order.
    """
    # Amounts come from integers only: a float such as 10000.000000001 must never reach a payload.
    _require(isinstance(amount, int) and not isinstance(amount, bool),
             f"amount must be an int of rupiah, got {type(amount).__name__}")
    _require(amount > 0, f"amount must be greater than zero, got {amount}")
    _require(amount < 10 ** MAX_AMOUNT_DIGITS, f"amount must have at most {MAX_AMOUNT_DIGITS} digits")
    source = parse(payload)
    dropped = {"54", "63"} | (set() if keep_tip else TIP_TAGS)
    fields = [(tag, DYNAMIC if tag == "01" else value)
              for tag, value in source.tags.items() if tag not in dropped]
    position = next((index for index, (tag, _) in enumerate(fields) if int(tag) > 54), len(fields))
    fields.insert(position, ("54", str(int(amount))))  # int() so an IntEnum never prints its name
    result = build(fields)
    parse(result)  # never hand out a payload we would reject ourselves
    return result
