"""Phone numbers are normalised to 11 mainland digits, or refused with a typed error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import InvalidPhoneNumber, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13511112222",
        "+86 135-1111-2222",
        "+8613511112222",
        "0086 135 1111 2222",
        " 135 1111 2222 ",
        "(135) 1111 2222",
        "(+86) 135.1111.2222",
        "13511112222\t",
        "１３５１１１１２２２２",  # full-width, as a Chinese input method types them
        "＋８６ １３５－１１１１－２２２２",
    ],
)
def test_common_spellings_of_one_mobile_number_normalise_to_eleven_digits(raw: str) -> None:
    assert normalize_phone(raw) == "13511112222"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "1351111222",
        "135111122223",
        "+1 415 555 2671",
        "010-12345678",
        "+44 7911 123456",
        "23511112222",
        "1" * 40,
    ],
)
def test_anything_but_a_mainland_mobile_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


def test_a_non_string_phone_is_refused_with_the_same_typed_error() -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(13511112222)


@given(st.text(max_size=40))
def test_arbitrary_text_either_normalises_to_a_mobile_number_or_raises_the_typed_error(raw: str) -> None:
    try:
        number = normalize_phone(raw)
    except InvalidPhoneNumber as exc:
        digits = "".join(ch for ch in raw if ch.isdigit())
        assert len(digits) < 5 or digits not in str(exc)
    else:
        assert len(number) == 11 and number.isdigit() and number.startswith("1")


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_a_masked_number_keeps_only_the_first_three_and_last_four_digits(number: str) -> None:
    masked = mask_phone(number)
    assert masked == f"{number[:3]}****{number[-4:]}"
    assert number not in masked


def test_error_messages_never_repeat_the_number() -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_phone("+1 415 555 2671")
    assert "415" not in str(info.value)


def test_a_repeated_number_gives_the_same_answer_each_time_refusals_included() -> None:
    # normalize_phone remembers its answers: the remembered one must be the parsed one, and a
    # refusal must never be remembered as a number
    assert [normalize_phone("+86 135-1111-2222") for _ in range(3)] == ["13511112222"] * 3
    for _ in range(3):
        with pytest.raises(InvalidPhoneNumber):
            normalize_phone("+1 202-555-0143")


@pytest.mark.parametrize(
    "raw",
    [
        "135-CALL-NOW1",  # letters would be read as keypad digits
        "1351234ABCD",
        "call 15955554444",  # words around the number would be dropped
        "13512345678 ext. 42",  # extensions would be dropped
        "13512345678;isub=9",
        "13512345678x",
        "13512345678\x00",
        "tel:+8613512345678",
        "++8613512345678",
        "135+1234+5678",
        "135/1234/5678",
        "١٣٥١٢٣٤٥٦٧٨",  # digits of another script
        "¹³⁵¹²³⁴⁵⁶⁷⁸",
    ],
)
def test_text_that_is_more_than_a_typed_number_is_refused_not_read_as_one(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as info:
        normalize_phone(raw)
    assert "1234" not in str(info.value) and "5555" not in str(info.value)


#: What a typed number may hold besides its digits (full-width twins included), and padding.
_TYPED = set("0123456789+-.() \t\r\n０１２３４５６７８９＋－．（）\u3000")


@given(
    number=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    junk=st.text(st.characters(exclude_characters="".join(_TYPED)), min_size=1, max_size=6),
    at=st.integers(0, 11),
)
def test_a_number_with_anything_else_in_or_around_it_is_refused(number: str, junk: str, at: int) -> None:
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(number[:at] + junk + number[at:])
