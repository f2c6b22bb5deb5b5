"""The provider's verdict on a code, and whether a failed call can have judged it.

Both check modes ask through here: ``direct`` in the web process, ``worker`` in a check worker
(:mod:`worker.checks`). Only the SDK adapter (:mod:`producers.provider`) touches the SDK, and it
loads it on the first call.
"""

from __future__ import annotations

import time

from producers import errors
from producers.effect import Flow, Pause, blocking
from producers.provider import AskProvider


class NoVerdict(Exception):
    """Nothing judged the code: every attempt failed before or without reaching the provider (or,
    in worker mode, no worker took the check). The caller gives the attempt back and raises ``error``."""

    def __init__(self, error: errors.SmsqError) -> None:
        super().__init__(str(error))
        self.error = error


def asking_provider(
    number: str, code: str, scheme: str, attempts: int, *, deadline_s: float | None = None
) -> Flow[bool]:
    """The provider's verdict on ``code`` in ``scheme`` (the purpose's), retrying a transient
    failure up to ``attempts - 1`` times, never starting a retry past ``deadline_s`` (epoch
    seconds: a worker's caller has given up by then).

    Retrying is safe: a wrong code changes nothing at the provider. (If a timed-out call had in
    fact passed, the retry answers not-passed because the code is used up; the user asks again.)
    Raises :class:`NoVerdict` when no attempt can have reached a verdict (refused connections,
    error answers), so the reservation can be given back; a possible verdict raises the
    :class:`~producers.errors.ProviderError` and keeps it.
    """
    ambiguous = False
    for attempt in range(1, attempts + 1):
        try:
            return (yield from AskProvider(number, code, scheme))
        except errors.ProviderAmbiguous as exc:
            ambiguous = True
            last: errors.ProviderError = exc
        except errors.ProviderTransient as exc:
            last = exc
        except errors.ProviderError as exc:
            if ambiguous:
                raise
            raise NoVerdict(exc) from None
        pause_s = 0.05 * attempt
        if attempt == attempts or (deadline_s is not None and time.time() + pause_s >= deadline_s):
            break
        yield from Pause(pause_s)
    if ambiguous:
        raise last
    raise NoVerdict(last)


ask_provider = blocking(asking_provider, "ask_provider")
