"""Specs for kasir.qris: parsing, validating, building and converting QRIS payloads."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kasir.qris import QrisError, build, crc16, parse, to_dynamic

VECTORS_FILE = Path(__file__).parent / "data" / "qris-vectors.txt"


def load_vectors() -> list[str]:
    lines = VECTORS_FILE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


VECTORS = load_vectors()
STATIC_VECTOR, DYNAMIC_VECTOR, TIP_VECTOR = VECTORS
MANDATORY_TAGS = ["00", "01", "52", "53", "58", "59", "60"]
IDENTITY_TAGS = [f"{number:02d}" for number in range(26, 52)] + ["59", "60"]
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


def reference_crc16(data: bytes) -> str:
    """Bit-by-bit CRC-16/CCITT-FALSE, written independently of the module under test."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def static_tags(changes: dict[str, str] | None = None) -> dict[str, str]:
    """The static vector's root tags in ascending order, some replaced or added; no CRC (build adds it)."""
    tags = {tag: value for tag, value in parse(STATIC_VECTOR).tags.items() if tag != "63"}
    return dict(sorted({**tags, **(changes or {})}.items()))


def signed(body: str) -> str:
    """Append the correct CRC to a hand-made body ending in "6304", so only the structure is wrong."""
    return body + crc16(body)


# --- crc16 -------------------------------------------------------------------------------------

def test_crc16_gives_the_ccitt_false_check_value() -> None:
    assert crc16("123456789") == "29B1"


def test_crc16_of_empty_text_is_the_initial_value() -> None:
    assert crc16("") == "FFFF"


def test_crc16_pads_to_four_uppercase_hex_digits() -> None:
    assert crc16("AF") == reference_crc16(b"AF") == "0BF0"


@PROPERTY_SETTINGS
@given(st.text())
def test_crc16_is_computed_over_utf8_bytes(text: str) -> None:
    assert crc16(text) == reference_crc16(text.encode("utf-8"))


# --- parsing the vectors --------------------------------------------------------------------------

def test_vector_file_holds_three_payloads() -> None:
    assert len(VECTORS) == 3


@pytest.mark.parametrize("payload", VECTORS)
def test_every_vector_parses_and_keeps_its_crc(payload: str) -> None:
    parsed = parse(payload)
    assert parsed.crc == payload[-4:] == crc16(payload[:-4])
    assert list(parsed.tags)[0] == "00" and list(parsed.tags)[-1] == "63"


def test_static_vector_exposes_merchant_fields() -> None:
    parsed = parse(STATIC_VECTOR)
    assert not parsed.is_dynamic
    assert parsed.amount is None
    assert parsed.merchant_name == "TOKO CONTOH"
    assert parsed.merchant_city == "DEPOK"
    assert parsed.nmid == "ID1020000000017"
    assert parsed.crc == "51D4"
    assert list(parsed.tags) == ["00", "01", "26", "51", "52", "53", "58", "59", "60", "61", "63"]
    assert parsed.tags["52"] == "5499" and parsed.tags["61"] == "16424"


def test_dynamic_vector_has_amount_and_bill_number() -> None:
    parsed = parse(DYNAMIC_VECTOR)
    assert parsed.is_dynamic
    assert parsed.amount == 27500
    assert parsed.nested("62") == {"01": "INV20261123001"}


def test_tip_vector_carries_fixed_tip_indicator() -> None:
    parsed = parse(TIP_VECTOR)
    assert not parsed.is_dynamic and parsed.amount is None
    assert parsed.tags["55"] == "02" and parsed.tags["56"] == "2000"
    assert parsed.merchant_name == "KEDAI KOPI" and parsed.merchant_city == "YOGYAKARTA"
    assert parsed.nmid == "ID1021000000099"


def test_nested_parses_merchant_account_template() -> None:
    assert parse(STATIC_VECTOR).nested("26") == {
        "00": "ID.CO.EXAMPLEBANK.WWW", "01": "936000990000000017", "02": "000000000017", "03": "UMI",
    }


def test_nested_returns_none_for_an_absent_template() -> None:
    assert parse(STATIC_VECTOR).nested("62") is None


def test_nested_rejects_a_tag_that_is_not_a_template() -> None:
    with pytest.raises(QrisError, match="not a template"):
        parse(STATIC_VECTOR).nested("59")


def test_parsed_tags_are_read_only() -> None:
    with pytest.raises(TypeError):
        parse(STATIC_VECTOR).tags["59"] = "OTHER"  # type: ignore[index]


def test_parse_results_are_hashable_and_compare_by_tags() -> None:
    assert parse(STATIC_VECTOR) == parse(STATIC_VECTOR)
    assert len({parse(STATIC_VECTOR), parse(STATIC_VECTOR), parse(TIP_VECTOR)}) == 2


def test_qris_error_is_a_value_error() -> None:
    assert issubclass(QrisError, ValueError)


@pytest.mark.parametrize("amount_text", ["15000", "15000.00", "015000", "15000.0"])
def test_amount_accepts_plain_digits_and_an_all_zero_fraction(amount_text: str) -> None:
    assert parse(build(static_tags({"54": amount_text}))).amount == 15000


def test_percentage_fee_with_its_indicator_is_accepted() -> None:
    assert parse(build(static_tags({"55": "03", "57": "2.5"}))).tags["57"] == "2.5"


def test_tip_prompt_without_fee_is_accepted() -> None:
    assert parse(build(static_tags({"55": "01"}))).tags["55"] == "01"


def test_one_merchant_account_template_is_enough() -> None:
    tags = static_tags()
    del tags["26"]
    assert parse(build(tags)).nmid == "ID1020000000017"


def test_crc_that_reads_6304_is_found_by_walking_fields() -> None:
    # Bill number found by search: it makes the CRC itself "6304", which fools rfind("6304").
    payload = build(static_tags({"62": "0111INV00061165"}))
    assert payload.endswith("63046304")
    assert parse(payload).crc == "6304"


def test_6304_inside_a_value_does_not_confuse_parsing() -> None:
    payload = build(static_tags({"62": "01086304ABCD"}))
    assert parse(payload).nested("62") == {"01": "6304ABCD"}


def test_non_ascii_name_length_counts_characters_and_crc_covers_bytes() -> None:
    payload = build(static_tags({"59": "KOPI SÜSU"}))
    assert "5909KOPI SÜSU" in payload
    parsed = parse(payload)
    assert parsed.merchant_name == "KOPI SÜSU"
    assert parsed.crc == reference_crc16(payload[:-4].encode("utf-8"))


# --- rejecting bad payloads ------------------------------------------------------------------------

def changed_at(payload: str, position: int) -> list[str]:
    """Every payload made by replacing the character at `position` with another ASCII character."""
    return [payload[:position] + char + payload[position + 1:] for char in "05AZa ." if char != payload[position]]


@pytest.mark.parametrize("position", range(len(STATIC_VECTOR)))
def test_any_single_character_change_is_rejected(position: int) -> None:
    # An ASCII-for-ASCII change alters one byte, which CRC-16 always detects (or breaks the CRC digits).
    for corrupted in changed_at(STATIC_VECTOR, position):
        with pytest.raises(QrisError):
            parse(corrupted)


def test_non_ascii_change_in_the_name_is_rejected() -> None:
    with pytest.raises(QrisError, match="CRC mismatch"):
        parse(STATIC_VECTOR.replace("TOKO CONTOH", "TÖKO CONTOH"))


@pytest.mark.parametrize("length", range(len(STATIC_VECTOR)))
def test_every_truncation_is_rejected(length: int) -> None:
    with pytest.raises(QrisError):
        parse(STATIC_VECTOR[:length])


def test_wrong_crc_is_rejected() -> None:
    wrong = f"{int(STATIC_VECTOR[-4:], 16) ^ 1:04X}"
    with pytest.raises(QrisError, match="CRC mismatch"):
        parse(STATIC_VECTOR[:-4] + wrong)


def test_lowercase_crc_is_rejected() -> None:
    assert STATIC_VECTOR.endswith("51D4")
    with pytest.raises(QrisError, match="CRC mismatch"):
        parse(STATIC_VECTOR[:-4] + "51d4")


@pytest.mark.parametrize("wrong_length", ["10", "12", "99", "1A"])
def test_wrong_length_digits_are_rejected(wrong_length: str) -> None:
    body = STATIC_VECTOR[:-4].replace("5911TOKO CONTOH", f"59{wrong_length}TOKO CONTOH")
    with pytest.raises(QrisError, match="two-digit tag and length|runs past the end|CRC"):
        parse(signed(body))


def test_length_running_past_the_end_is_rejected() -> None:
    with pytest.raises(QrisError, match="tag 01 length 05 runs past the end"):
        parse("00020101051")


def test_empty_value_is_rejected() -> None:
    with pytest.raises(QrisError, match="empty value"):
        parse(signed(STATIC_VECTOR[:-8] + "6200" + "6304"))


def test_crc_not_last_is_rejected() -> None:
    with pytest.raises(QrisError, match="must be the last field"):
        parse(STATIC_VECTOR + "6502AB")


def test_crc_with_wrong_length_is_rejected() -> None:
    body = STATIC_VECTOR[:-8] + "6305"
    with pytest.raises(QrisError, match="length 04"):
        parse(body + crc16(body) + "0")


def test_missing_crc_is_rejected() -> None:
    with pytest.raises(QrisError, match="missing mandatory tag 63"):
        parse(STATIC_VECTOR[:-8])


@pytest.mark.parametrize("tag", MANDATORY_TAGS)
def test_missing_mandatory_tag_is_rejected(tag: str) -> None:
    tags = static_tags()
    del tags[tag]
    with pytest.raises(QrisError, match=f"missing mandatory tag {tag}"):
        parse(build(tags))


def test_missing_every_merchant_account_is_rejected() -> None:
    tags = static_tags()
    del tags["26"], tags["51"]
    with pytest.raises(QrisError, match="missing merchant account information"):
        parse(build(tags))


def test_wrong_currency_is_rejected() -> None:
    with pytest.raises(QrisError, match="must be 360"):
        parse(build(static_tags({"53": "840"})))


def test_duplicate_root_tag_is_rejected() -> None:
    with pytest.raises(QrisError, match="duplicate tag 59"):
        parse(signed(STATIC_VECTOR[:-8] + "5903DUP" + "6304"))


def test_payload_format_indicator_must_come_first() -> None:
    tags = static_tags()
    reordered = {"01": tags.pop("01"), **tags}
    with pytest.raises(QrisError, match="must be the first field"):
        parse(build(reordered))


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        ("00", "02", "payload format indicator"),
        ("01", "13", "point of initiation"),
        ("52", "549", "4 digits"),
        ("52", "54A9", "4 digits"),
        ("53", "36", "360"),
        ("58", "SG", "country code"),
        ("59", "N" * 26, "longer than 25"),
        ("60", "C" * 16, "longer than 15"),
        ("61", "1" * 11, "longer than 10"),
        ("54", "abc", "plain digits"),
        ("54", "1e5", "plain digits"),
        ("54", "-5", "plain digits"),
        ("54", "15000.", "plain digits"),
        ("54", "١٥٠٠٠", "plain digits"),  # Arabic-Indic digits pass str.isdigit()
        ("54", "1" * 14, "13 characters"),
        ("54", "15000.50", "fraction"),
        ("54", "0", "greater than zero"),
        ("54", "0.00", "greater than zero"),
        ("55", "04", "tip indicator"),
        ("26", "garbage", "tag 26"),
        ("26", "0304UMIX", "criteria"),
        ("51", "0101A0101B", "duplicate tag 01"),
        ("62", "0126" + "B" * 26, "longer than 25"),
    ],
)
def test_invalid_field_value_is_rejected(tag: str, value: str, reason: str) -> None:
    with pytest.raises(QrisError, match=reason):
        parse(build(static_tags({tag: value})))


@pytest.mark.parametrize(
    "fee_tags",
    [{"56": "2000"}, {"55": "02"}, {"55": "01", "56": "2000"}, {"55": "03"}, {"55": "02", "56": "1", "57": "5"}],
)
def test_fee_without_its_indicator_or_indicator_without_its_fee_is_rejected(fee_tags: dict[str, str]) -> None:
    with pytest.raises(QrisError, match="tip indicator 55"):
        parse(build(static_tags(fee_tags)))


@pytest.mark.parametrize("percentage", ["0", "0.00", "12345.6", "5%"])
def test_invalid_percentage_fee_is_rejected(percentage: str) -> None:
    with pytest.raises(QrisError, match="57"):
        parse(build(static_tags({"55": "03", "57": percentage})))


@pytest.mark.parametrize("payload", ["", b"000201", None])
def test_empty_or_non_text_payload_is_rejected(payload: object) -> None:
    with pytest.raises(QrisError):
        parse(payload)  # type: ignore[arg-type]


def test_unencodable_text_is_rejected_as_qris_error() -> None:
    with pytest.raises(QrisError, match="UTF-8"):
        parse(STATIC_VECTOR.replace("TOKO CONTOH", "TOKO CONTO\ud800"))


# --- build -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", VECTORS)
def test_build_of_parsed_tags_reproduces_the_vector(payload: str) -> None:
    assert build(parse(payload).tags) == payload


def test_build_serializes_nested_tags_and_appends_crc() -> None:
    payload = build([("00", "01"), ("62", [("01", "INV1"), ("07", {"00": "X"})])])
    assert payload == signed("000201" + "6217" + "0104INV1" + "0705" + "0001X" + "6304")


def test_build_accepts_a_mapping_or_pairs_alike() -> None:
    tags = static_tags()
    assert build(tags) == build(list(tags.items())) == STATIC_VECTOR


def test_build_ignores_a_given_crc_tag() -> None:
    assert build({**static_tags(), "63": "0000"}) == STATIC_VECTOR


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ([("00", "")], "allowed 1-99"),
        ([("00", "X" * 100)], "allowed 1-99"),
        ([("62", [("01", "X" * 96)])], "allowed 1-99"),
        ([("0", "01")], "two-digit"),
        ([("000", "01")], "two-digit"),
        ([("ab", "01")], "two-digit"),
        ([(54, "15000")], "two-digit"),
        ([("٥٤", "15000")], "two-digit"),
        ([("54", 15000)], "must be a str or nested tags"),
        ([("59", "A"), ("59", "B")], "duplicate tag 59"),
    ],
)
def test_build_rejects_invalid_tags_or_values(tags: list, reason: str) -> None:
    with pytest.raises(QrisError, match=reason):
        build(tags)


# --- to_dynamic ------------------------------------------------------------------------------------

@pytest.mark.parametrize("payload", VECTORS)
def test_to_dynamic_sets_amount_and_dynamic_and_drops_tip_tags(payload: str) -> None:
    converted = parse(to_dynamic(payload, 15000))
    assert converted.is_dynamic
    assert converted.amount == 15000 and converted.tags["54"] == "15000"
    assert not {"55", "56", "57"} & set(converted.tags)


@pytest.mark.parametrize("payload", VECTORS)
def test_to_dynamic_keeps_merchant_identity_and_other_tags_in_order(payload: str) -> None:
    source, converted = parse(payload), parse(to_dynamic(payload, 15000))
    for tag in IDENTITY_TAGS:
        assert converted.tags.get(tag) == source.tags.get(tag)
    changed = {"01", "54", "55", "56", "57", "63"}
    assert [item for item in converted.tags.items() if item[0] not in changed] == [
        item for item in source.tags.items() if item[0] not in changed
    ]


def test_to_dynamic_inserts_amount_in_tag_order() -> None:
    assert list(parse(to_dynamic(STATIC_VECTOR, 15000)).tags) == [
        "00", "01", "26", "51", "52", "53", "54", "58", "59", "60", "61", "63",
    ]


def test_to_dynamic_replaces_the_amount_of_a_dynamic_qr() -> None:
    converted = to_dynamic(DYNAMIC_VECTOR, 5000)
    assert parse(converted).amount == 5000
    # Same fields, same order; only the amount field (and so the CRC) differs.
    assert converted == signed(DYNAMIC_VECTOR[:-8].replace("540527500", "54045000") + "6304")


def test_to_dynamic_can_keep_the_tip_tags() -> None:
    converted = parse(to_dynamic(TIP_VECTOR, 15000, keep_tip=True))
    assert converted.tags["55"] == "02" and converted.tags["56"] == "2000"
    assert list(converted.tags)[5:9] == ["53", "54", "55", "56"]


def test_to_dynamic_works_on_fields_not_raw_text() -> None:
    # A name that looks like the static marker and the country field must survive unchanged.
    payload = build(static_tags({"59": "010211 5802ID 6304"}))
    converted = parse(to_dynamic(payload, 20000))
    assert converted.merchant_name == "010211 5802ID 6304"
    assert converted.is_dynamic and converted.amount == 20000


def test_to_dynamic_accepts_the_largest_13_digit_amount() -> None:
    assert parse(to_dynamic(STATIC_VECTOR, 9_999_999_999_999)).amount == 9_999_999_999_999


@pytest.mark.parametrize("amount", [0, -1, -15000, 1.0, 15000.0, 10000.000000001, True, False, "15000", None, 10**13])
def test_to_dynamic_rejects_amounts_that_are_not_positive_ints_of_up_to_13_digits(amount: object) -> None:
    with pytest.raises(QrisError, match="amount"):
        to_dynamic(STATIC_VECTOR, amount)  # type: ignore[arg-type]


def test_to_dynamic_rejects_an_invalid_payload() -> None:
    with pytest.raises(QrisError, match="CRC mismatch"):
        to_dynamic(STATIC_VECTOR[:-4] + "0000", 15000)


# --- properties ------------------------------------------------------------------------------------

NAME_CHARACTERS = st.characters(categories=("Lu", "Ll"), include_characters=" ")


def digit_text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=min_size, max_size=max_size)


merchant_accounts = st.dictionaries(
    keys=st.integers(26, 51).map(lambda number: f"{number:02d}"),
    values=st.fixed_dictionaries({
        "00": st.sampled_from(["ID.CO.EXAMPLEBANK.WWW", "ID.CO.QRIS.WWW", "COM.EXAMPLE.WWW"]),
        "01": digit_text(10, 19),
        "02": digit_text(1, 15),
        "03": st.sampled_from(["UMI", "UKE", "UME", "UBE", "URE"]),
    }),
    min_size=1,
    max_size=3,
)
additional_data = st.dictionaries(
    keys=st.sampled_from(["01", "05", "07"]),
    values=st.text(NAME_CHARACTERS | st.sampled_from("0123456789"), min_size=1, max_size=25),
    min_size=1,
)


@st.composite
def valid_tags(draw: st.DrawFn) -> dict[str, object]:
    """Root tags of a valid QRIS in ascending order; templates as nested dicts."""
    tags: dict[str, object] = {"00": "01", "01": draw(st.sampled_from(["11", "12"]))}
    tags.update(draw(merchant_accounts))
    tags |= {"52": draw(digit_text(4, 4)), "53": "360"}
    amount = draw(st.none() | st.integers(1, 9_999_999_999_999))
    if amount is not None:
        tags["54"] = str(amount)
    indicator = draw(st.sampled_from([None, "01", "02", "03"]))
    if indicator is not None:
        tags["55"] = indicator
    if indicator == "02":
        tags["56"] = str(draw(st.integers(1, 1_000_000)))
    if indicator == "03":
        tags["57"] = draw(st.sampled_from(["1", "2.5", "10.00", "99.99"]))
    tags["58"] = "ID"
    tags["59"] = draw(st.text(NAME_CHARACTERS, min_size=1, max_size=25))
    tags["60"] = draw(st.text(NAME_CHARACTERS, min_size=1, max_size=15))
    if draw(st.booleans()):
        tags["61"] = draw(digit_text(1, 10))
    if draw(st.booleans()):
        tags["62"] = draw(additional_data)
    return dict(sorted(tags.items()))


@PROPERTY_SETTINGS
@given(valid_tags())
def test_build_then_parse_round_trips_generated_payloads(tags: dict[str, object]) -> None:
    payload = build(tags)
    parsed = parse(payload)
    assert build(parsed.tags) == payload
    assert list(parsed.tags) == [*tags, "63"]
    for tag, value in tags.items():
        assert (parsed.nested(tag) if isinstance(value, dict) else parsed.tags[tag]) == value
    assert parsed.merchant_name == tags["59"] and parsed.merchant_city == tags["60"]
    assert parsed.amount == (int(tags["54"]) if "54" in tags else None)  # type: ignore[call-overload]
    assert parsed.is_dynamic == (tags["01"] == "12")


@PROPERTY_SETTINGS
@given(st.sampled_from(VECTORS), st.integers(1, 9_999_999_999_999))
def test_to_dynamic_output_always_reparses_with_the_exact_amount(payload: str, amount: int) -> None:
    converted = parse(to_dynamic(payload, amount))
    assert converted.amount == amount and converted.is_dynamic
    assert converted.nmid == parse(payload).nmid


@PROPERTY_SETTINGS
@given(valid_tags(), st.integers(1, 9_999_999_999_999))
def test_to_dynamic_is_idempotent(tags: dict[str, object], amount: int) -> None:
    once = to_dynamic(build(tags), amount)
    assert to_dynamic(once, amount) == once
