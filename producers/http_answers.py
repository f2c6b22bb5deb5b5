"""smsq over HTTP, for any web framework: an error as a status, a JSON body and headers; a result as JSON.

The gateway and every integration (``producers.integrations``) answer with these, so a client sees
the same statuses, bodies and ``reason`` values whichever one it talks to::

    InvalidInput        400  {"error", "reason", "message"}
    Refused             429  + "rule", "retry_after" (seconds), and a Retry-After header
    TicketNotFound      404
    ServiceUnavailable  503
    ProviderTransient   503  + a Retry-After header (the provider's hint, else 1 s)
    ProviderError       502
    ConfigurationError  500  the server is misconfigured: nothing the client can change

``Retry-After`` is whole seconds, rounded up, at least 1. Nothing here imports a web framework.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from producers.errors import (
    ConfigurationError,
    InvalidInput,
    ProviderError,
    ProviderThrottled,
    ProviderTransient,
    Refused,
    ServiceUnavailable,
    SmsqError,
    TicketNotFound,
)

#: HTTP status of each smsq error; an error takes the entry of its nearest listed ancestor.
STATUS_FOR: Mapping[type[SmsqError], int] = {
    InvalidInput: 400,
    Refused: 429,
    TicketNotFound: 404,
    ServiceUnavailable: 503,
    ConfigurationError: 500,
    ProviderTransient: 503,
    ProviderError: 502,
    SmsqError: 500,
}


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What to answer: a status, a JSON-serialisable body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def status_for(exc: SmsqError) -> int:
    """The HTTP status of ``exc``, from :data:`STATUS_FOR`."""
    for klass in type(exc).__mro__:
        if klass in STATUS_FOR:
            return STATUS_FOR[klass]
    return 500  # unreachable: SmsqError itself is in the table


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` for a wait of ``seconds``: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def error_answer(exc: SmsqError) -> HttpAnswer:
    """The HTTP answer for one of smsq's errors (its message is log-safe by contract)."""
    body: dict[str, Any] = {"error": type(exc).__name__, "reason": exc.reason, "message": str(exc)}
    headers: dict[str, str] = {}
    if isinstance(exc, Refused):
        body |= {"rule": exc.rule, "retry_after": exc.retry_after}
        headers["Retry-After"] = retry_after_header(exc.retry_after)
    elif isinstance(exc, ProviderTransient):
        retry_after = exc.retry_after if isinstance(exc, ProviderThrottled) else None
        headers["Retry-After"] = retry_after_header(retry_after or 1)
    return HttpAnswer(status_for(exc), body, headers)
