"""The one exception tree of smsq. Every error a caller can see is one of these.

::

    SmsqError                       root; ``reason`` is a short, stable, log-safe identifier
    ├── InvalidInput                the caller's input is wrong: fix it, do not retry
    │   ├── InvalidPhoneNumber
    │   ├── InvalidCode
    │   ├── UnknownLane
    │   ├── UnknownPurpose      a purpose SMSQ_PURPOSES does not name
    │   └── InvalidArgument
    ├── Refused                     refused by policy; ``rule`` and ``retry_after`` (seconds)
    │   ├── RateLimited             an abuse limit on sends or checks
    │   └── CheckLocked             too many wrong codes for the number's current code
    ├── ServiceUnavailable          our own infrastructure (Redis, broker) failed: retry later
    ├── ConfigurationError          an SMSQ_* setting is wrong: fix the configuration, do not retry
    │   └── DecryptionFailed        a sealed value opens with none of the configured keys
    ├── TicketNotFound              no record for that ticket (never existed, or past its TTL)
    └── ProviderError               the SMS provider (Alibaba Dypnsapi) answered badly
        ├── ProviderTransient       worth retrying soon (throttling, 5xx, refused connection)
        │   └── ProviderThrottled   flow control; ``retry_after`` when the provider gave one
        ├── ProviderAmbiguous       the request may or may not have been processed (read timeout)
        └── ProviderPermanent       retrying cannot help (bad number, sign/template, account, keys)
            └── ProviderFrequency   the provider's own resend interval refused the send

Messages never contain a full phone number, a code or a secret.
"""

from __future__ import annotations


class SmsqError(Exception):
    """Raised for every failure smsq reports; catch this to catch them all."""

    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class InvalidInput(SmsqError, ValueError):
    """Raised when an argument is malformed; nothing was recorded or queued."""

    reason = "invalid_input"


class InvalidPhoneNumber(InvalidInput):
    """Raised when a number is not a mainland China mobile number."""

    reason = "invalid_phone"


class InvalidCode(InvalidInput):
    """Raised when a verification code has the wrong shape (length or characters)."""

    reason = "invalid_code"


class UnknownLane(InvalidInput):
    """Raised when a send names a lane that is not configured."""

    reason = "unknown_lane"


class UnknownPurpose(InvalidInput):
    """Raised when a send or check names a purpose that SMSQ_PURPOSES does not configure."""

    reason = "unknown_purpose"


class InvalidArgument(InvalidInput):
    """Raised when another argument (purpose, client IP, idempotency key) is malformed."""

    reason = "invalid_argument"


class Refused(SmsqError):
    """Raised when a policy refuses the call; try again after ``retry_after`` seconds."""

    reason = "refused"

    def __init__(self, message: str, *, rule: str, retry_after: float) -> None:
        super().__init__(message)
        self.rule = rule
        self.retry_after = retry_after


class RateLimited(Refused):
    """Raised when an abuse limit refuses a send or a check; nothing was counted or queued."""

    reason = "rate_limited"


class CheckLocked(Refused):
    """Raised when a number's current code has had too many wrong answers."""

    reason = "check_locked"


class ServiceUnavailable(SmsqError):
    """Raised when Redis or the broker cannot be reached; the operation did not happen."""

    reason = "service_unavailable"


class ConfigurationError(SmsqError):
    """Raised when a setting is missing or malformed; the message names the variable, in one line."""

    reason = "configuration"


class DecryptionFailed(ConfigurationError):
    """Raised when a sealed phone number opens with none of ``SMSQ_ENCRYPTION_KEYS``."""

    reason = "undecryptable"


class TicketNotFound(SmsqError, LookupError):
    """Raised when a ticket has no record (unknown, or older than the record TTL)."""

    reason = "ticket_not_found"


class ProviderError(SmsqError):
    """Raised when the SMS provider fails; ``code`` is the provider's error code, if any."""

    reason = "provider_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.code = code
        self.status = status
        self.request_id = request_id


class ProviderTransient(ProviderError):
    """Raised when the provider failed in a way that a retry soon may fix."""

    reason = "provider_transient"


class ProviderThrottled(ProviderTransient):
    """Raised when the provider's flow control refused the call; ``retry_after`` in seconds or None."""

    reason = "provider_throttled"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ProviderAmbiguous(ProviderError):
    """Raised when the call may have reached the provider but no answer came (read timeout)."""

    reason = "provider_ambiguous"


class ProviderPermanent(ProviderError):
    """Raised when the provider refused the call for a reason a retry cannot fix."""

    reason = "provider_rejected"


class ProviderFrequency(ProviderPermanent):
    """Raised when the provider refused because the number got a code inside its resend interval."""

    reason = "provider_frequency"
