"""What every integration (and the gateway) shares: JSON request bodies, the client IP, and the
ready-made send / check / status routes as framework-neutral functions returning an
:class:`~producers.http_answers.HttpAnswer`.

A POST must be ``Content-Type: application/json``: a cross-site HTML form cannot send that without
a CORS preflight, which is why the ready-made routes need no CSRF token.
"""

from __future__ import annotations

import json
import re

from producers import constants
from producers.check import check_code
from producers.errors import (
    InvalidArgument,
    InvalidCode,
    InvalidInput,
    InvalidPhoneNumber,
    TicketNotFound,
    UnknownPurpose,
)
from producers.http_answers import HttpAnswer
from producers.ip import normalize_ip
from producers.records import as_json
from producers.send import send_code
from producers.settings import get_settings
from producers.status import get_status

#: Largest request body accepted (bytes); a send or a check needs a few hundred.
MAX_BODY_BYTES = 16 * 1024
#: What a ticket looks like in a URL (send_code hands out 32 hex digits).
TICKET_PATTERN = constants.TICKET_PATTERN

SEND_FIELDS = frozenset({"phone", "purpose"})
#: The purpose of a send that names none (``send_code``'s default).
DEFAULT_PURPOSE = "login"
CHECK_FIELDS = frozenset({"phone", "code", "purpose"})

_TICKET = re.compile(TICKET_PATTERN)


# --- request bodies --------------------------------------------------------------------------------


def json_object(raw: bytes, content_type: str | None, allowed: frozenset[str]) -> dict[str, object]:
    """``raw`` as a JSON object with no fields outside ``allowed``.

    Raises :class:`~producers.errors.InvalidArgument` with reason ``unsupported_media_type``,
    ``body_too_large`` or ``malformed_json``, or ``invalid_argument`` naming unknown fields."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InvalidArgument(
            "send the body as Content-Type: application/json", reason="unsupported_media_type"
        )
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidArgument("the body is not valid JSON", reason="malformed_json") from exc
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object", reason="malformed_json")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown field(s): {', '.join(unknown)[:200]}")
    return body


def too_large() -> InvalidArgument:
    """The error for a body over :data:`MAX_BODY_BYTES`."""
    return InvalidArgument(f"the body must be at most {MAX_BODY_BYTES} bytes", reason="body_too_large")


def required(body: dict[str, object], name: str, error: type[InvalidInput] = InvalidArgument) -> str:
    """The string field ``name``; raises ``error`` when it is missing or not a string."""
    value = body.get(name)
    if not isinstance(value, str):
        raise error(f"{name} is required and must be a string")
    return value


def optional(body: dict[str, object], name: str) -> str | None:
    """The string field ``name``, or None when absent."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{name} must be a string")
    return value


# --- the client IP ---------------------------------------------------------------------------------


def valid_ip(value: str | None) -> str | None:
    """``value`` as a canonical IP address (scope id dropped, an IPv4 address inside IPv6
    unwrapped: :func:`producers.ip.normalize_ip`), else None (a Unix socket, a made-up name)."""
    return normalize_ip(value) if value else None


def forwarded_ip(remote_addr: str | None, forwarded_for: str | None, hops: int) -> str | None:
    """The client IP behind ``hops`` reverse proxies of your own.

    Each proxy appends the address it was called from to ``X-Forwarded-For``, so the client is the
    entry ``hops`` from the right; entries further left are the client's own word and never
    trusted. With ``hops`` 0, or a header too short or garbled there, the peer address counts."""
    if hops > 0 and forwarded_for:
        entries = forwarded_for.split(",")
        if len(entries) >= hops:
            trusted = valid_ip(_without_port(entries[-hops]))
            if trusted is not None:
                return trusted
    return valid_ip(remote_addr)


def _without_port(entry: str) -> str:
    """An ``X-Forwarded-For`` entry without the port some proxies append (``203.0.113.7:51234``,
    ``[2001:db8::1]:443``); a bare IPv6 address, all colons, is left whole."""
    entry = entry.strip()
    if entry.startswith("["):
        host, closed, _ = entry[1:].partition("]")
        return host if closed else entry
    host, colon, port = entry.partition(":")
    return host if colon and port.isdigit() else entry


# --- the ready-made routes -------------------------------------------------------------------------


def send_answer(raw: bytes, content_type: str | None, client_ip: str | None) -> HttpAnswer:
    """``POST …/codes``: queue a code to the body's ``phone``; 202 with the ticket."""
    body = json_object(raw, content_type, SEND_FIELDS)
    phone = required(body, "phone", InvalidPhoneNumber)
    ticket = send_code(phone, purpose=end_user_purpose(body), client_ip=client_ip)
    return HttpAnswer(202, as_json(ticket))


def end_user_purpose(body: dict[str, object]) -> str:
    """The body's ``purpose`` (:data:`DEFAULT_PURPOSE` when absent), as an end user may pick it.

    ``SMSQ_PURPOSE_LIMITS`` count each purpose apart, and records and metrics name it; with
    ``SMSQ_PURPOSES`` unset any name is a purpose, so a caller free to choose one could start a
    fresh count (and a new metric series) with every send. An end user may therefore name only a
    purpose ``SMSQ_PURPOSES`` configures (or the default); a trusted backend picks any through
    ``send_code`` or the gateway. (The pumping breaker counts all purposes together there.)
    Raises :class:`~producers.errors.UnknownPurpose` otherwise."""
    purpose = optional(body, "purpose") or DEFAULT_PURPOSE
    if purpose != DEFAULT_PURPOSE and get_settings().purposes is None:
        raise UnknownPurpose(
            "purpose: the ready-made routes accept only the purposes SMSQ_PURPOSES configures"
        )
    return purpose


def check_answer(raw: bytes, content_type: str | None, client_ip: str | None) -> HttpAnswer:
    """``POST …/checks``: check the body's ``code`` for its ``phone``; 200 whether or not it passed.
    ``client_ip`` counts against the per-IP check limits, as for sends."""
    body = json_object(raw, content_type, CHECK_FIELDS)
    phone = required(body, "phone", InvalidPhoneNumber)
    code = required(body, "code", InvalidCode)
    result = check_code(phone, code, client_ip=client_ip, purpose=optional(body, "purpose"))
    return HttpAnswer(200, as_json(result))


def status_answer(ticket: str) -> HttpAnswer:
    """``GET …/codes/{ticket}``: where the send is."""
    if not _TICKET.fullmatch(ticket):
        raise TicketNotFound("no send has that ticket")
    return HttpAnswer(200, as_json(get_status(ticket)))
