"""The ``"N/period;…"`` notation: what parses, to what, and what is refused with a typed error."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import producers.limits
from producers.errors import InvalidArgument, InvalidInput
from producers.limits import MAX_LIMIT, MAX_WINDOW_S, UNITS_S, Rate, format_rates, parse_rate, parse_rates


@pytest.mark.parametrize(
    ("text", "limit", "window_s"),
    [
        ("1/second", 1, 1),
        ("5/minute", 5, 60),
        ("5/minutes", 5, 60),
        ("10/hour", 10, 3600),
        ("100/day", 100, 86_400),
        ("3/10minutes", 3, 600),
        ("3/10 minutes", 3, 600),
        ("  50/second  ", 50, 1),
        ("7 / 90 Seconds", 7, 90),
        ("2/2days", 2, 172_800),
    ],
)
def test_each_documented_spelling_parses_to_its_limit_and_window(
    text: str, limit: int, window_s: int
) -> None:
    assert parse_rate(text) == Rate(limit, window_s)


def test_the_default_phone_rules_parse_in_order() -> None:
    assert parse_rates("1/minute;5/hour;10/day") == (Rate(1, 60), Rate(5, 3600), Rate(10, 86_400))


def test_rules_keep_the_text_they_were_written_as() -> None:
    assert [rate.text for rate in parse_rates(" 1/minute ; 3/10 minutes")] == ["1/minute", "3/10 minutes"]


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_string_means_no_rules(text: str) -> None:
    assert parse_rates(text) == ()


def test_a_rate_knows_its_long_run_rate_per_second() -> None:
    assert parse_rate("50/second").per_second == 50
    assert parse_rate("3/10minutes").per_second == pytest.approx(0.005)


@pytest.mark.parametrize(
    ("rate", "text"),
    [
        (Rate(5, 60), "5/minute"),
        (Rate(3, 600), "3/10minutes"),
        (Rate(1, 90), "1/90seconds"),
        (Rate(9, 7200), "9/2hours"),
    ],
)
def test_str_gives_the_canonical_notation(rate: Rate, text: str) -> None:
    assert str(rate) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("0/second", "at least 1"),
        ("1/0minutes", "multiplier"),
        ("5/week", "unknown unit"),
        ("5/s", "unknown unit"),
        ("5/minutess", "unknown unit"),
        ("minute", "N/period"),
        ("5", "N/period"),
        ("5/", "N/period"),
        ("/minute", "N/period"),
        ("-1/second", "N/period"),
        ("1.5/second", "N/period"),
        ("1/second junk", "N/period"),
        ("5 per minute", "N/period"),
        ("\u0661/second", "N/period"),  # an Arabic-Indic digit is not an ASCII digit
        ("1/minute;", "empty rule"),
        (";1/minute", "empty rule"),
        ("1/minute;;5/hour", "empty rule"),
        ("1/minute;2/minute", "one window"),
        ("60/hour;1/60minutes", "one window"),
        ("1/367days", "window"),
        (f"{MAX_LIMIT + 1}/second", "limit"),
        ("9" * 5000 + "/second", "too large"),
    ],
)
def test_malformed_rules_are_refused_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(says)):
        parse_rates(text)


def test_parse_rate_wants_exactly_one_rule() -> None:
    with pytest.raises(InvalidArgument, match="exactly one"):
        parse_rate("1/second;5/minute")
    with pytest.raises(InvalidArgument, match="exactly one"):
        parse_rate("")


def test_a_rate_cannot_be_built_with_a_zero_limit_or_window() -> None:
    with pytest.raises(InvalidArgument):
        Rate(0, 60)
    with pytest.raises(InvalidArgument):
        Rate(1, 0)


def test_the_error_is_an_invalid_input_and_a_value_error() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_rates("garbage")
    assert isinstance(caught.value, ValueError)
    assert caught.value.reason == "invalid_argument"


def test_the_public_names_are_exactly_the_sorted_all() -> None:
    def isort_style(name: str) -> tuple[int, str]:  # constants, then classes, then functions (RUF022)
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert sorted(producers.limits.__all__, key=isort_style) == producers.limits.__all__
    public = {name for name in vars(producers.limits) if not name.startswith("_")}
    assert public - {"annotations", "notation"} == set(producers.limits.__all__)


# --- properties -------------------------------------------------------------------------------------

_window = st.builds(
    lambda unit, count: UNITS_S[unit] * count,
    st.sampled_from(list(UNITS_S)),
    st.integers(min_value=1, max_value=400),
).filter(lambda window_s: window_s <= MAX_WINDOW_S)

_rates = st.lists(
    st.builds(Rate, st.integers(min_value=1, max_value=MAX_LIMIT), _window),
    max_size=5,
    unique_by=lambda rate: rate.window_s,
).map(tuple)


@given(_rates)
def test_formatting_then_parsing_gives_back_the_same_rules(rates: tuple[Rate, ...]) -> None:
    assert parse_rates(format_rates(rates)) == rates


@given(_rates, st.sampled_from(["", " ", "  "]))
def test_spaces_around_rules_do_not_change_them(rates: tuple[Rate, ...], pad: str) -> None:
    text = ";".join(f"{pad}{rate}{pad}" for rate in rates)
    assert parse_rates(text) == rates


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from(list(UNITS_S)), st.integers(1, 100))
def test_a_multiplier_multiplies_the_unit_and_plurals_are_optional(limit: int, unit: str, count: int) -> None:
    for spelling in (f"{limit}/{count}{unit}", f"{limit}/{count}{unit}s", f"{limit}/{count} {unit}s"):
        assert parse_rate(spelling) == Rate(limit, count * UNITS_S[unit])


_NOTATION = re.compile(
    r"\s*[0-9]+\s*/\s*[0-9]*\s*(second|minute|hour|day)s?\s*(;\s*[0-9]+\s*/\s*[0-9]*\s*(second|minute|hour|day)s?\s*)*",
    re.ASCII | re.IGNORECASE,
)


@given(
    st.text(alphabet=st.sampled_from("0123456789/; sxaecondminuthrdy;\t-.\u0661"), max_size=30) | st.text()
)
@example("1/minute;")
@example("1 0/minute")
@example("1/minutes s")
def test_text_outside_the_notation_never_parses_silently(text: str) -> None:
    try:
        rates = parse_rates(text)
    except InvalidArgument:
        return
    # It parsed: then it must be the notation (or blank), and mean what it says.
    assert not text.strip() or _NOTATION.fullmatch(text)
    assert all(isinstance(rate, Rate) and rate.limit >= 1 and rate.window_s >= 1 for rate in rates)
    assert len({rate.window_s for rate in rates}) == len(rates)


@given(st.text())
def test_any_string_either_parses_or_raises_invalid_argument(text: str) -> None:
    try:
        parse_rates(text)
    except InvalidArgument as exc:
        assert str(exc)
