import pytest

from kasir.money import MoneyError, format_number, format_rupiah, parse_rupiah


@pytest.mark.parametrize("text, expected", [
    ("15000", 15000), ("15.000", 15000), ("Rp 15.000", 15000), ("rp15.000", 15000), ("Rp. 1.250.000", 1250000),
    ("15.000,00", 15000), (" 7500 ", 7500), (15000, 15000), ("0", 0),
])
def test_parse_rupiah_accepts_what_people_type(text, expected):
    assert parse_rupiah(text) == expected


@pytest.mark.parametrize("text", ["15.000,5", "15000,50", "-5000", "1,5", "15.00", "abc", "", "1.2.3", "Rp", "12e3",
                                  True])
def test_parse_rupiah_rejects_fractions_negatives_and_garbage(text):
    with pytest.raises(MoneyError):
        parse_rupiah(text)


def test_parse_rupiah_can_refuse_zero():
    with pytest.raises(MoneyError):
        parse_rupiah("0", allow_zero=False)


def test_format_rupiah_uses_dots_for_thousands():
    assert format_rupiah(15000) == "Rp 15.000"
    assert format_rupiah(1250000) == "Rp 1.250.000"
    assert format_rupiah(0) == "Rp 0"
    assert format_rupiah(-2500) == "-Rp 2.500"
    assert format_number(27500) == "27.500"
