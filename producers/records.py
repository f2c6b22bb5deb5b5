"""The send record: its states and what a status lookup returns.

States: ``queued → sending → sent → verified``, or ``failed`` (with a reason) or ``expired``
(its useful life ran out before it could be sent). ``rejected`` sends are never recorded: the
caller got a :class:`producers.errors.RateLimited` instead of a ticket.

Delivery is a separate field, fed by the carrier's receipts (``receipts.lua``), never a state: a
receipt does not change where the send is, and a final state stays final.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import TypedDict

from producers.constants import DEFAULT_RECEIPT_WAIT_S, TASK_TIME_LIMIT_S

#: A send still ``sending`` this long after its last attempt began lost its worker for good.
_ABANDONED_AFTER_S = TASK_TIME_LIMIT_S + 60


class SendState(enum.StrEnum):
    """Where a send is."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    VERIFIED = "verified"
    FAILED = "failed"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        """True once nothing will change the outcome of the send itself."""
        return self in _FINAL


_FINAL = frozenset({SendState.SENT, SendState.VERIFIED, SendState.FAILED, SendState.EXPIRED})
#: States in which the provider accepted the SMS: a missing receipt is awaited, then ``unknown``.
_ACCEPTED = frozenset({SendState.SENT, SendState.VERIFIED})
#: States in which the send has not ended: its delivery is not shown yet, even when a receipt
#: already arrived (it shows once the worker records the outcome).
_UNDECIDED = frozenset({SendState.QUEUED, SendState.SENDING})


class Delivery(enum.StrEnum):
    """What the carrier reported about a sent SMS (Alibaba's delivery receipt)."""

    #: Sent, no receipt yet (within ``SMSQ_RECEIPT_WAIT_S`` of ``sent``).
    PENDING = "pending"
    #: The handset received it.
    DELIVERED = "delivered"
    #: The carrier could not deliver it; ``carrier_code`` says why (``MK:0001``…).
    UNDELIVERED = "undelivered"
    #: No receipt within ``SMSQ_RECEIPT_WAIT_S`` of ``sent`` (a receipt arriving later still counts).
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Ticket:
    """What ``send_code`` returns: the id to look the send up by, and its state then."""

    id: str
    state: SendState
    created_at: float
    masked_phone: str
    lane: str
    purpose: str
    #: True when an idempotency key matched an earlier send: nothing new was queued.
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class SendStatus:
    """A send record as a status lookup shows it (the phone masked)."""

    #: The send's ticket (the ``id`` of the :class:`Ticket` that ``send_code`` returned).
    id: str
    state: SendState
    masked_phone: str
    lane: str
    purpose: str
    created_at: float
    updated_at: float
    deadline_at: float
    #: Task runs that took the send (a run handed back to wait for the rate counts too).
    attempts: int
    reason: str | None = None
    provider_request_id: str | None = None
    biz_id: str | None = None
    sent_at: float | None = None
    #: Seconds from send_code() to the provider's acceptance.
    enqueue_to_sent_s: float | None = None
    #: What the carrier reported; None while the send is not sent (or failed without a receipt).
    delivery: Delivery | None = None
    #: The carrier's status code from the receipt (``DELIVERED``, ``MK:0001``…).
    carrier_code: str | None = None
    #: When the carrier reported (the receipt's ``report_time``), Unix seconds.
    reported_at: float | None = None
    #: When smsq received that receipt (the Redis server's clock), Unix seconds.
    receipt_at: float | None = None
    #: Seconds from the provider's send to the carrier's report (the receipt's own two times).
    send_to_delivery_s: float | None = None

    @classmethod
    def from_hash(
        cls, ticket: str, data: dict[str, str], now: float, *, receipt_wait_s: float = DEFAULT_RECEIPT_WAIT_S
    ) -> SendStatus:
        """Rebuild from the Redis hash. A send still queued past its deadline reads as ``expired``
        (its message was lost); one still sending long after its worker's time limit reads as
        ``failed`` with reason ``worker_lost`` (its SMS may or may not have gone out). A sent send
        without a receipt ``receipt_wait_s`` after ``sent`` reads as delivery ``unknown``."""
        state = SendState(data["state"])
        deadline_at = float(data["deadline_at"])
        reason = data.get("reason") or None
        if state is SendState.QUEUED and now > deadline_at:
            state = SendState.EXPIRED
        elif state is SendState.SENDING and now > float(data.get("updated_at", 0)) + _ABANDONED_AFTER_S:
            state, reason = SendState.FAILED, "worker_lost"
        sent_at = _float(data.get("sent_at"))
        created_at = float(data["created_at"])
        receipt = _receipt_fields(state, data, sent_at, now, receipt_wait_s)
        return cls(
            id=ticket,
            state=state,
            masked_phone=data["masked"],
            lane=data["lane"],
            purpose=data["purpose"],
            created_at=created_at,
            updated_at=float(data.get("updated_at", created_at)),
            deadline_at=deadline_at,
            attempts=int(data.get("attempts", 0)),
            reason=reason,
            provider_request_id=data.get("request_id") or None,
            biz_id=data.get("biz_id") or None,
            sent_at=sent_at,
            enqueue_to_sent_s=None if sent_at is None else round(sent_at - created_at, 6),
            **receipt,
        )


class _DeliveryFields(TypedDict, total=False):
    delivery: Delivery
    carrier_code: str | None
    reported_at: float | None
    receipt_at: float | None
    send_to_delivery_s: float | None


def _receipt_fields(
    state: SendState, data: dict[str, str], sent_at: float | None, now: float, wait_s: float
) -> _DeliveryFields:
    """The delivery fields of a status: a stored receipt once the send has ended, else whether one
    is still awaited. A failed or expired send shows a receipt only when one came (it proves an
    ambiguous attempt reached the phone)."""
    stored = data.get("delivery")
    if state in _UNDECIDED:
        return {}
    if stored:
        return {
            "delivery": Delivery(stored),
            "carrier_code": data.get("carrier_code") or None,
            "reported_at": _float(data.get("reported_at")),
            "receipt_at": _float(data.get("receipt_at")),
            "send_to_delivery_s": _float(data.get("delivery_s")),
        }
    if state in _ACCEPTED:
        waited_long = sent_at is not None and now > sent_at + wait_s
        return {"delivery": Delivery.UNKNOWN if waited_long else Delivery.PENDING}
    return {}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What ``check_code`` returns."""

    passed: bool
    #: Wrong answers still allowed for the number's current code before it locks.
    attempts_left: int
    #: The send that was verified, when the check passed and smsq knows it.
    ticket: str | None = None


def as_json(record: Ticket | SendStatus | CheckResult) -> dict[str, object]:
    """A result as plain JSON data, the send's id under the key ``ticket`` (as the gateway and the
    command line print it)."""
    data = dataclasses.asdict(record)
    if "id" in data:
        data = {"ticket": data.pop("id"), **data}
    return data


def _float(value: str | None) -> float | None:
    return float(value) if value else None
