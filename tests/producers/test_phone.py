"""Phone numbers are normalised to 11 mainland digits, or refused with a typed error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import InvalidPhoneNumber, mask_phone, normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["13511112222", "+86 135-1111-2222", "+8613511112222", "0086 135 1111 2222", " 135 1111 2222 "],
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
