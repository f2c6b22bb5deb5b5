"""Structured, log-safe lines: one per state change, never a full number, a code or a secret."""

from __future__ import annotations

import logging
import re

from producers.phone import mask_phone

logger = logging.getLogger("smsq")


def log_event(event: str, **fields: object) -> None:
    """Log ``event`` with ``key=value`` fields (callers pass masked phones only), lazily formatted."""
    if logger.isEnabledFor(logging.INFO):
        logger.info("%s %s", event, " ".join(f"{key}={value}" for key, value in fields.items()))


_SENSITIVE_QUERY = re.compile(r"\b(PhoneNumber|VerifyCode)=([^&\s\"']+)")


def _redact(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}={mask_phone(value) if name == 'PhoneNumber' else '****'}"


class RedactProviderQueries(logging.Filter):
    """Masks phone numbers and codes in the request lines urllib3 logs at DEBUG: the SDK sends
    them in the query string, so a host application with DEBUG logging would otherwise log them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                _SENSITIVE_QUERY.sub(_redact, arg) if isinstance(arg, str) else arg for arg in args
            )
        if isinstance(record.msg, str):
            record.msg = _SENSITIVE_QUERY.sub(_redact, record.msg)
        return True


def install_redaction() -> None:
    """Attach :class:`RedactProviderQueries` to urllib3's request logger (idempotent)."""
    target = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactProviderQueries) for f in target.filters):
        target.addFilter(RedactProviderQueries())
