"""The check worker's side of ``SMSQ_CHECK_MODE=worker`` (see :mod:`producers.rpc`): claim the
call, ask the provider, push the answer for the caller. A plain function that tests can call
without Celery; ``worker.tasks`` wraps it."""

from __future__ import annotations

import logging
import time

from producers import errors
from producers.keyring import Keyring
from producers.rpc import Answer, Reply, RpcCalls, Settled, open_check
from producers.settings import Settings
from producers.verdict import NoVerdict, ask_provider
from worker import metrics

logger = logging.getLogger("smsq.worker")


def hold_ms(settings: Settings) -> int:
    """How long past its deadline a claim may stand: every attempt's connect and read timeouts."""
    one_call_s = settings.connect_timeout_s + settings.check_read_timeout_s
    return int((settings.check_attempts * one_call_s + 1) * 1000)


def answer_check(
    calls: RpcCalls, keyring: Keyring, settings: Settings, *, token: str, sealed: str, deadline_ms: int
) -> str:
    """Answer one check call; return what happened (``answered``, ``dropped``: the caller had gone
    meanwhile, ``late`` or ``abandoned``: the provider was not asked), never the verdict."""
    settled = calls.claim(token, deadline_ms=deadline_ms, hold_ms=hold_ms(settings))
    if settled is not Settled.CLAIMED:
        logger.info("check.skipped token=%s reason=%s", token, settled.value)
        return settled.value
    started = time.perf_counter()
    asked: errors.SmsqError | None = None  # how the provider failed the check, if it did
    try:
        number, code, scheme = open_check(keyring, sealed)
        passed = ask_provider(number, code, scheme, settings.check_attempts, deadline_s=deadline_ms / 1000)
        reply = Reply(Answer.PASSED if passed else Answer.FAILED)
    except NoVerdict as failure:
        asked, reply = failure.error, Reply.failure(Answer.NO_VERDICT, failure.error)
    except errors.ProviderError as exc:
        asked, reply = exc, Reply.failure(Answer.ERROR, exc)
    except errors.SmsqError as exc:  # the sealed payload opens with none of our keys
        asked, reply = exc, Reply.failure(Answer.NO_VERDICT, exc)
    seconds = time.perf_counter() - started
    pushed = calls.reply(token, reply, deadline_ms=deadline_ms)
    if asked is None or isinstance(asked, errors.ProviderError):
        # "Provider latency" and "Provider errors by code" with action="check"
        metrics.provider_request("check", seconds, asked)
    outcome = "answered" if pushed else "dropped"
    logger.info("check.%s token=%s latency_ms=%.1f", outcome, token, seconds * 1000)
    return outcome


def answer_ping(calls: RpcCalls, settings: Settings, *, token: str, deadline_ms: int) -> str:
    """The same path as a check without the provider: a bare round trip (``smsq bench check``)."""
    settled = calls.claim(token, deadline_ms=deadline_ms, hold_ms=hold_ms(settings))
    if settled is not Settled.CLAIMED:
        return settled.value
    return "answered" if calls.reply(token, Reply(Answer.PONG), deadline_ms=deadline_ms) else "dropped"
