"""``check_code``: ask the provider in the request, guarded against brute force."""

from __future__ import annotations

import re
import time

from producers import errors
from producers.connections import get_redis
from producers.logs import log_event
from producers.phone import mask_phone, normalize_phone
from producers.provider import get_provider
from producers.records import CheckResult
from producers.settings import get_settings
from producers.store import store_for

_CODE = re.compile(r"^[A-Za-z0-9]{4,8}$")


def check_code(phone: str, code: str) -> CheckResult:
    """Return whether ``code`` is the current code of ``phone``, and how many wrong answers remain.

    Raises :class:`~producers.errors.InvalidCode` for a malformed code,
    :class:`~producers.errors.CheckLocked` after too many wrong answers (without asking the
    provider), and :class:`~producers.errors.ProviderError` when the provider cannot answer.
    """
    settings = get_settings()
    number = normalize_phone(phone)
    if not isinstance(code, str) or not _CODE.match(code):
        raise errors.InvalidCode("code must be 4-8 letters or digits")
    masked = mask_phone(number)
    store = store_for(get_redis())
    allowed, value = store.begin_check(
        number, max_failures=settings.check_max_failures, window_s=settings.code_ttl_s
    )
    if not allowed:
        log_event("check.locked", phone=masked)
        raise errors.CheckLocked(
            "too many wrong codes for this number", rule="check", retry_after=value / 1000
        )
    attempts_left = settings.check_max_failures - value
    try:
        passed = _ask_provider(number, code, settings.check_attempts)
    except errors.ProviderError:
        store.refund_check(number)
        store.count("checks", "error")
        raise
    if passed:
        ticket = store.check_passed(number)
        log_event("check.passed", phone=masked, ticket=ticket)
        return CheckResult(True, settings.check_max_failures, ticket)
    log_event("check.failed", phone=masked, attempts_left=attempts_left)
    return CheckResult(False, attempts_left)


def _ask_provider(number: str, code: str, attempts: int) -> bool:
    """The provider's verdict, retrying a transient failure ``attempts - 1`` times.

    Retrying is safe: a wrong code changes nothing at the provider. (If a timed-out call had in
    fact passed, the retry answers not-passed because the code is used up; the user asks again.)
    """
    provider = get_provider()
    for attempt in range(1, attempts):
        try:
            return provider.check(number, code).passed
        except (errors.ProviderTransient, errors.ProviderAmbiguous):
            time.sleep(0.05 * attempt)
    return provider.check(number, code).passed
