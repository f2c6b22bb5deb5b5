"""Hostile input for the fuzz suite, and how many examples each test runs.

``make test`` runs a short pass (``SMSQ_FUZZ_EXAMPLES`` unset: a few dozen per test, seconds in all);
``make fuzz`` sets ``SMSQ_FUZZ_EXAMPLES=10000`` for the full run.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Examples per fuzz test: ``SMSQ_FUZZ_EXAMPLES`` (the full run), else a short pass.
FUZZ_EXAMPLES = int(os.environ.get("SMSQ_FUZZ_EXAMPLES", "40"))

#: How every fuzz test runs: no deadline (real Redis and HTTP), no example database (the runs must not
#: depend on each other), and fixtures shared across examples (they are reset inside the test).
fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

#: Every character, lone surrogates and control characters included.
any_text = st.text(st.characters(codec=None, exclude_categories=[]), max_size=80)
#: Text that may reach our parsers in a plausible shape, mixed with what must not.
junk_text = st.one_of(
    any_text,
    st.sampled_from(["", " ", "\n", "\x00", "null", "None", "NaN", "-1", "1e309", "%00", "../..", "ö" * 40]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=300),
)
#: Any JSON-ish value, nested.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | junk_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(junk_text, inner, max_size=4),
    max_leaves=12,
)
#: Anything a Python caller could pass.
any_value = st.one_of(
    json_values, st.binary(max_size=40), st.just(object()), st.sets(st.integers(), max_size=3)
)

VALID_PHONES = ["13511112222", "+86 135-1111-2223", "8613511112224", "(+86) 139 0000 0025", "+8613800138000"]


@st.composite
def mainland_mobiles(draw: st.DrawFn) -> str:
    """A valid mainland mobile number (blocks phonenumbers knows), written in one of the usual ways."""
    digits = draw(st.sampled_from(["13", "15", "18"])) + str(draw(st.integers(0, 9)))
    digits += "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=8, max_size=8)))
    return draw(st.sampled_from(["{}", "+86{}", "+86 {}", "86{}", "{}\t"])).format(digits)


phones = st.one_of(
    st.sampled_from(VALID_PHONES),
    mainland_mobiles(),
    mainland_mobiles(),
    mainland_mobiles(),
    mainland_mobiles(),
    st.from_regex(r"\A\+?(86)?1[3-9][0-9]{9}\Z"),
    st.from_regex(r"\A[+0-9 ()\-.]{0,40}\Z"),
    junk_text,
    any_value,
)
codes = st.one_of(
    st.from_regex(r"\A[0-9]{6}\Z"),
    st.from_regex(r"\A[0-9]{4,8}\Z"),
    st.from_regex(r"\A[A-Za-z0-9]{0,10}\Z"),
    junk_text,
    any_value,
)
ips = st.one_of(
    st.none(),
    st.ip_addresses().map(str),
    st.ip_addresses().map(str),
    st.tuples(st.ip_addresses(v=6).map(str), junk_text).map(lambda pair: f"{pair[0]}%{pair[1]}"),
    st.ip_addresses(v=4).map(lambda a: f"::ffff:{a}"),
    junk_text,
    any_value,
)
purposes = st.one_of(
    st.just("login"), st.just("signup"), st.from_regex(r"\A[A-Za-z0-9_.:-]{0,40}\Z"), junk_text, any_value
)
idempotency_keys = st.one_of(
    st.none(), st.none(), st.from_regex(r"\A[\x21-\x7e]{0,130}\Z"), junk_text, any_value
)
lanes = st.one_of(
    st.just("parked"), st.just("parked"), st.sampled_from(["default", "PARKED", ""]), junk_text, any_value
)


def as_kwargs(**values: Any) -> dict[str, Any]:
    """Keyword arguments, leaving out the ones drawn as "absent" (``...``)."""
    return {name: value for name, value in values.items() if value is not ...}
