"""Phone numbers: normalise to the 11-digit mainland form and mask for display."""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from producers.errors import InvalidPhoneNumber

_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
_MAX_INPUT = 32
#: Distinct inputs whose normal form is remembered: a check usually repeats its send's number, and
#: parsing costs more than the rest of a check's own work (about 45 µs). Bounded: 4,096 short strings.
PARSE_CACHE_SIZE = 4096
#: Full-width forms, as a Chinese input method types them, read as their ASCII twins.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋－．（）\u3000", "0123456789+-.() ")
#: All a typed number may hold: ASCII digits, one ``+`` ahead of them (``(+86)`` too), spaces, ``-``,
#: ``.``, ``(``, ``)``, and padding. phonenumbers reads more (letters as keypad digits, and drops
#: extensions and words around the number), which would text a number the caller never typed.
_TYPED_NUMBER = re.compile(r"[ \t\r\n]*[( ]*\+?[0-9 ().-]*[ \t\r\n]*")


def normalize_phone(raw: object) -> str:
    """Return ``raw`` as an 11-digit mainland China mobile number, e.g. ``+86 135-1111-2222`` →
    ``13511112222`` (full-width digits read as ASCII); raise :class:`InvalidPhoneNumber` for anything
    else, letters and extensions included (the provider sends to mainland mobiles only)."""
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX_INPUT:
        raise InvalidPhoneNumber("phone must be a non-empty string of at most 32 characters")
    return _parse(raw)


@functools.lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parse(raw: str) -> str:
    """:func:`normalize_phone` of a checked string, remembered (a refusal raises again each time:
    errors are not cached). A pure function of its input, so nothing ever needs to reset it."""
    typed = raw.translate(_FULL_WIDTH)
    if not _TYPED_NUMBER.fullmatch(typed):
        raise InvalidPhoneNumber("phone may hold only digits, one leading '+', spaces and - . ( )")
    try:
        parsed = phonenumbers.parse(typed, "CN")
    except NumberParseException as exc:
        raise InvalidPhoneNumber("phone is not a phone number") from exc
    if parsed.country_code != 86:
        raise InvalidPhoneNumber("only mainland China (+86) numbers are supported by the provider")
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidPhoneNumber("phone is not a valid mainland China mobile number")
    national = str(parsed.national_number)
    if len(national) != 11:
        raise InvalidPhoneNumber("phone is not a valid mainland China mobile number")
    return national


def mask_phone(phone: str) -> str:
    """Mask a number for people and logs: ``13511112222`` → ``135****2222``."""
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
