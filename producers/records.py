"""The send record: its states and what a status lookup returns.

States: ``queued → sending → sent → verified``, or ``failed`` (with a reason) or ``expired``
(its useful life ran out before it could be sent). ``rejected`` sends are never recorded: the
caller got a :class:`producers.errors.RateLimited` instead of a ticket.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from producers.constants import TASK_TIME_LIMIT_S

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

    @classmethod
    def from_hash(cls, ticket: str, data: dict[str, str], now: float) -> SendStatus:
        """Rebuild from the Redis hash. A send still queued past its deadline reads as ``expired``
        (its message was lost); one still sending long after its worker's time limit reads as
        ``failed`` with reason ``worker_lost`` (its SMS may or may not have gone out)."""
        state = SendState(data["state"])
        deadline_at = float(data["deadline_at"])
        reason = data.get("reason") or None
        if state is SendState.QUEUED and now > deadline_at:
            state = SendState.EXPIRED
        elif state is SendState.SENDING and now > float(data.get("updated_at", 0)) + _ABANDONED_AFTER_S:
            state, reason = SendState.FAILED, "worker_lost"
        sent_at = _float(data.get("sent_at"))
        created_at = float(data["created_at"])
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
        )


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
