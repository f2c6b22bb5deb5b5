"""``check_code``: the provider's verdict within the request, guarded against brute force and abuse.

One round trip to Redis (``lua/check_begin.lua``) before the provider is asked: the check limits
(per client IP, for everyone), then a reservation against the number's live code. A number with
no live code gets no provider call at all: the check fails at no cost and counts against the
caller's limits only, so checking a victim's number can never lock the victim out. A live code sent
for another purpose than the check names fails the same way (``producers.purposes``). Answers count
against the code (its send), not the number: every new code starts with its full share.

The provider is asked by a check worker (``SMSQ_CHECK_MODE=worker``, :mod:`producers.rpc`: this
process holds no Alibaba key) or here (``direct``). Either way only this function applies the
verdict, and an attempt that surely reached no verdict is given back. In worker mode the
reservation's script also queues the check task (:mod:`producers.outbound`): one round trip before
a check worker can take it.

Written once as a flow (:mod:`producers.effect`): ``check_code`` runs it blocking, ``acheck_code``
on the event loop.
"""

from __future__ import annotations

import re

from producers import errors
from producers.effect import Flow, awaitable, blocking
from producers.guard import get_guard
from producers.ip import ip_bucket
from producers.logs import log_event
from producers.outbound import RideAlong, call_outbound
from producers.phone import mask_phone, normalize_phone
from producers.purposes import PURPOSE_NAME
from producers.records import CheckResult
from producers.rpc import REDIS_CLOCK, asking_check_workers, check_call
from producers.settings import get_settings
from producers.store import CheckOutcome, Count, begin_check_op, check_passed_op, refund_check_op
from producers.verdict import NoVerdict, asking_provider

_CODE = re.compile(r"[A-Za-z0-9]{4,8}")


def checking(
    phone: str, code: str, *, client_ip: str | None = None, purpose: str | None = None
) -> Flow[CheckResult]:
    """Return whether ``code`` is the current code of ``phone``, and how many wrong answers remain.

    With ``purpose``, only a live code sent for that purpose can pass: a code sent for another
    purpose fails like a missing one, without asking the provider. Without it, the live code in
    the default scheme (SMSQ_SCHEME_NAME) is checked whatever its purpose, as before purposes.

    ``client_ip`` (the end user's) counts against ``SMSQ_CHECK_IP_LIMITS``, as a send's does for
    sends. Without a live code for ``phone`` the answer is "not passed, 0 attempts left" and the
    provider is not asked.

    Raises :class:`~producers.errors.InvalidCode` for a malformed code,
    :class:`~producers.errors.UnknownPurpose` for a purpose SMSQ_PURPOSES does not name,
    :class:`~producers.errors.RateLimited` when a check limit refuses,
    :class:`~producers.errors.CheckLocked` after too many wrong answers to the live code (without
    asking the provider), :class:`~producers.errors.ProviderError` when the provider cannot answer,
    and :class:`~producers.errors.ServiceUnavailable` when Redis fails or, in worker mode, no check
    worker answers within ``SMSQ_CHECK_TIMEOUT_S``.
    """
    settings = get_settings()
    number = normalize_phone(phone)
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise errors.InvalidCode("code must be 4-8 letters or digits")
    bucket = None if client_ip is None else ip_bucket(client_ip)
    scheme = _scheme_of(purpose)
    masked = mask_phone(number)
    guard = get_guard()
    live_code_keys = guard.keyring.live_code_keys(number, scheme)
    call = check_call(number, code, scheme, masked=masked) if settings.check_mode == "worker" else None
    outbound = None if call is None else (yield from RideAlong(call_outbound, call))
    reservation = yield from begin_check_op(
        live_code_keys=live_code_keys,
        rules=guard.check_rules_for(number, bucket),
        max_failures=settings.check_max_failures,
        purpose=purpose or "",
        outbound=outbound,
    )
    if reservation.outcome is CheckOutcome.LIMITED:
        log_event("check.rejected", phone=masked, rule=reservation.rule)
        raise errors.RateLimited(
            f"too many checks: rule {reservation.rule}",
            rule=reservation.rule,
            retry_after=reservation.retry_after_s,
        )
    if reservation.outcome is CheckOutcome.NO_CODE:
        log_event("check.no_code", phone=masked)
        return CheckResult(False, 0)
    if reservation.outcome is CheckOutcome.WRONG_PURPOSE:
        log_event("check.wrong_purpose", phone=masked, purpose=purpose)
        return CheckResult(False, 0)
    if reservation.outcome is CheckOutcome.LOCKED:
        log_event("check.locked", phone=masked, ticket=reservation.ticket)
        raise errors.CheckLocked(
            "too many wrong codes for this number", rule="check", retry_after=reservation.retry_after_s
        )
    ticket = reservation.ticket
    REDIS_CLOCK.saw(reservation.server_ms)
    try:
        if call is None:
            passed = yield from asking_provider(number, code, scheme, settings.check_attempts)
        else:
            passed = yield from asking_check_workers(call, queued=outbound is not None)
    except NoVerdict as failure:
        yield from refund_check_op(ticket)
        yield from Count("checks", "error")
        raise failure.error from None
    except (errors.ProviderError, errors.ServiceUnavailable):
        # the provider may have judged the code before the answer was lost: the answer counts
        yield from Count("checks", "error")
        raise
    if passed:
        yield from check_passed_op(ticket, live_code_keys=live_code_keys)
        log_event("check.passed", phone=masked, ticket=ticket)
        return CheckResult(True, settings.check_max_failures, ticket)
    attempts_left = settings.check_max_failures - reservation.used
    log_event("check.failed", phone=masked, ticket=ticket, attempts_left=attempts_left)
    return CheckResult(False, attempts_left)


def _scheme_of(purpose: str | None) -> str:
    """The scheme a check for ``purpose`` verifies in (the default scheme without one)."""
    settings = get_settings()
    if purpose is None:
        return settings.default_scheme
    if not isinstance(purpose, str) or not PURPOSE_NAME.fullmatch(purpose):
        raise errors.InvalidArgument("purpose must be 1-32 characters of letters, digits and _.:-")
    return settings.purpose(purpose).scheme_name


check_code = blocking(checking, "check_code")
acheck_code = awaitable(checking, "acheck_code")
