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


#: Request parameters (query string, or ``Authorization`` parts) that must never reach a log: the
#: number and the code, and the signing key id, signature and tokens of every SDK signing style.
_SENSITIVE_PARAM = re.compile(
    r"\b(PhoneNumber|VerifyCode|AccessKeyId|SecurityToken|BearerToken|Credential|Signature)=([^&,\s\"']+)"
)
#: The SDK's debug header lines that carry a credential whole (``> name : value``).
_SENSITIVE_HEADER = re.compile(
    r"(?im)^([<>] (?:x-acs-accesskey-id|x-acs-security-token|x-acs-bearer-token|x-acs-zero-trust-idtoken) :"
    r"|[<>] authorization : acs) .+$"
)
#: The loggers that log provider requests: urllib3's request line, and the SDK cores' ``DEBUG=sdk``
#: request and header dump (each core logs through its own stderr handler and the root logger).
REQUEST_LOGGERS = ("urllib3.connectionpool", "darabonba-core", "alibabacloud-tea")


def _redact(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if name == "PhoneNumber":
        return f"{name}={mask_phone(value)}"
    return f"{name}={'****' if name == 'VerifyCode' else '***'}"


def redact_request_text(text: str) -> str:
    """``text`` with numbers masked and codes, key ids, signatures and tokens replaced by stars."""
    text = _SENSITIVE_PARAM.sub(_redact, text)
    return _SENSITIVE_HEADER.sub(lambda match: f"{match.group(1)} ***", text)


class RedactProviderQueries(logging.Filter):
    """Masks phone numbers, codes and credentials in the provider requests urllib3 and the SDK log at
    DEBUG: the SDK sends the number and code in the query string, and with ``DEBUG=sdk`` it also dumps
    the signed headers. Attached to the logger itself, it runs before any of that logger's handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact_request_text(arg) if isinstance(arg, str) else arg for arg in args)
        if isinstance(record.msg, str):
            record.msg = redact_request_text(record.msg)
        return True


def install_redaction() -> None:
    """Attach :class:`RedactProviderQueries` to every logger in :data:`REQUEST_LOGGERS` (idempotent)."""
    for name in REQUEST_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactProviderQueries) for f in target.filters):
            target.addFilter(RedactProviderQueries())
