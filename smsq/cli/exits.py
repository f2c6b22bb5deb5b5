"""The exit statuses of ``smsq`` commands, one meaning each."""

from __future__ import annotations

import enum

from producers.errors import ConfigurationError, InvalidInput, Refused, SmsqError, TicketNotFound


class ExitCode(enum.IntEnum):
    """What a command's exit status means."""

    #: It worked: the send is queued (or sent, with ``--wait``), the check passed.
    OK = 0
    #: A definite "no": the check did not pass, the send failed or expired, or ``--wait`` ran out
    #: before the send was final.
    NO = 1
    #: Bad input or configuration (click's usage errors use 2 too): fix it, do not retry.
    INVALID = 2
    #: Refused by a limit: try again after ``retry_after``.
    REFUSED = 3
    #: Redis, the broker or the provider failed: try again later.
    UNAVAILABLE = 4


def exit_code_for(exc: SmsqError) -> ExitCode:
    """The exit status for a command that ended with ``exc``."""
    if isinstance(exc, InvalidInput | ConfigurationError | TicketNotFound):
        return ExitCode.INVALID
    if isinstance(exc, Refused):
        return ExitCode.REFUSED
    return ExitCode.UNAVAILABLE
