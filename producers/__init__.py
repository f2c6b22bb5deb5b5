"""smsq for web backends: ``send_code`` queues a verification SMS, ``check_code`` verifies it.

Asyncio apps await ``asend_code``, ``acheck_code`` and ``aget_status``: the same steps, limits and
errors, on ``redis.asyncio`` and the SDK's async call.

Importing this package is cheap: it loads neither the Celery worker nor the Alibaba SDK.
"""

from producers.check import acheck_code, check_code
from producers.errors import (
    CheckLocked,
    ConfigurationError,
    InvalidArgument,
    InvalidCode,
    InvalidInput,
    InvalidPhoneNumber,
    ProviderAmbiguous,
    ProviderError,
    ProviderFrequency,
    ProviderPermanent,
    ProviderThrottled,
    ProviderTransient,
    RateLimited,
    Refused,
    ServiceUnavailable,
    SmsqError,
    TicketNotFound,
    UnknownLane,
    UnknownPurpose,
)
from producers.phone import mask_phone, normalize_phone
from producers.records import CheckResult, Delivery, SendState, SendStatus, Ticket
from producers.send import asend_code, send_code
from producers.settings import configure
from producers.status import aget_status, get_status

__all__ = [
    "CheckLocked",
    "CheckResult",
    "ConfigurationError",
    "Delivery",
    "InvalidArgument",
    "InvalidCode",
    "InvalidInput",
    "InvalidPhoneNumber",
    "ProviderAmbiguous",
    "ProviderError",
    "ProviderFrequency",
    "ProviderPermanent",
    "ProviderThrottled",
    "ProviderTransient",
    "RateLimited",
    "Refused",
    "SendState",
    "SendStatus",
    "ServiceUnavailable",
    "SmsqError",
    "Ticket",
    "TicketNotFound",
    "UnknownLane",
    "UnknownPurpose",
    "acheck_code",
    "aget_status",
    "asend_code",
    "check_code",
    "configure",
    "get_status",
    "mask_phone",
    "normalize_phone",
    "send_code",
]
