"""Alibaba's delivery receipts (``DypnsSmsVerifyReport``, HTTP batch push), read at the door.

A push is a JSON array of reports with ``out_id`` (the ticket smsq sent as ``OutId``), ``success``,
``err_code``, ``send_time`` and ``report_time`` (``YYYY-MM-DD HH:MM:SS``, Beijing time), ``biz_id``,
``phone_number`` and a few more (Alibaba's receipt push documentation). :func:`parse_batch` keeps
what matching needs as typed :class:`Receipt` values. An item that is not a usable report is counted
and skipped, never fatal to the batch. ``phone_number`` is never read: nothing needs it, and a full
number must not be stored, logged or counted.

Applying a batch is :meth:`producers.store.RecordStore.apply_receipts` (``lua/receipts.lua``).
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from producers.constants import TICKET_PATTERN
from producers.errors import InvalidArgument

#: Receipts in one push at most (Alibaba publishes no maximum; its emulator's is 1000).
MAX_RECEIPTS_PER_BATCH: Final = 1000
#: Largest push body read (bytes): 1000 reports of a few hundred bytes each, with room to spare.
MAX_RECEIPT_BODY_BYTES: Final = 1024 * 1024
#: Distinct ``result|carrier code|purpose`` counters kept; beyond, a new code counts as ``other``.
MAX_DELIVERY_SERIES: Final = 500
#: The carrier code recorded for an ``err_code`` that is not a short ASCII token.
OTHER_CODE: Final = "other"
#: The carrier code recorded when a receipt carries no ``err_code``.
NO_CODE: Final = "none"

BEIJING: Final = timezone(timedelta(hours=8))
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_TICKET = re.compile(TICKET_PATTERN)
_CODE = re.compile(r"[A-Za-z0-9:_.-]{1,32}")
_BOOLEANS = {"true": True, "false": False}


class ReceiptOutcome(enum.StrEnum):
    """What applying one receipt did (the ``outcome`` label of ``smsq_receipts_total``)."""

    #: The send's first receipt: its delivery is known now.
    NEW = "new"
    #: It overruled the stored receipt (``delivered`` beats ``undelivered``; see receipts.lua).
    CHANGED = "changed"
    #: It changed nothing: the same receipt again, or one the stored receipt beats.
    DUPLICATE = "duplicate"
    #: It names no send smsq knows: no OutId of ours, or the record is past its TTL.
    UNMATCHED = "unmatched"
    #: Not a usable report; skipped.
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Receipt:
    """One report, as much of it as smsq keeps."""

    #: The send's ticket (the report's ``out_id``).
    ticket: str
    #: ``success``: the handset received it.
    delivered: bool
    #: ``err_code`` (``DELIVERED``, ``MK:0001``…), or ``other`` / ``none``.
    carrier_code: str
    #: ``report_time`` as Unix seconds, when readable.
    reported_at: float | None = None
    #: ``report_time - send_time`` in seconds for a delivered SMS, when both are readable and in order.
    send_to_delivery_s: float | None = None


@dataclass(frozen=True, slots=True)
class ReceiptBatch:
    """One push, read: its usable receipts and how many items were left out."""

    receipts: tuple[Receipt, ...] = ()
    #: Items that were not usable reports.
    malformed: int = 0
    #: Reports without an OutId of ours (another system on the account, the console's test push).
    foreign: int = 0

    @property
    def size(self) -> int:
        """Every item of the push."""
        return len(self.receipts) + self.malformed + self.foreign


class _Foreign:
    """A report that cannot be one of ours (no OutId, or not a ticket's shape)."""


_FOREIGN = _Foreign()


def parse_batch(raw: bytes) -> ReceiptBatch:
    """Read a push body. Raises :class:`InvalidArgument` when the body as a whole is not a batch
    (not JSON, not an array or a single report) or carries more than ``MAX_RECEIPTS_PER_BATCH``."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidArgument("the body is not JSON", reason="malformed_json") from None
    if isinstance(document, dict):
        document = [document]  # one report on its own (a console test push may look like this)
    if not isinstance(document, list):
        raise InvalidArgument("the body must be a JSON array of reports", reason="malformed_json")
    if len(document) > MAX_RECEIPTS_PER_BATCH:
        raise InvalidArgument(f"at most {MAX_RECEIPTS_PER_BATCH} reports per push", reason="body_too_large")
    receipts: list[Receipt] = []
    malformed = foreign = 0
    for item in document:
        read = _read_report(item)
        if read is None:
            malformed += 1
        elif isinstance(read, _Foreign):
            foreign += 1
        else:
            receipts.append(read)
    return ReceiptBatch(tuple(receipts), malformed, foreign)


def _read_report(item: object) -> Receipt | _Foreign | None:
    """One report as a :class:`Receipt`; ``_FOREIGN`` when it is not one of ours; None when it is
    malformed (not an object, ``success`` not a boolean, a field of the wrong type)."""
    if not isinstance(item, dict):
        return None
    out_id, success, code = item.get("out_id"), _boolean(item.get("success")), item.get("err_code")
    if success is None or not isinstance(out_id, str | None) or not isinstance(code, str | None):
        return None
    if not out_id or not _TICKET.fullmatch(out_id):
        return _FOREIGN
    reported_at = beijing_unix(item.get("report_time"))
    send_time = beijing_unix(item.get("send_time"))
    took = None  # an SMS that never arrived has no delivery time
    if success and reported_at is not None and send_time is not None and reported_at >= send_time:
        took = reported_at - send_time
    return Receipt(out_id, success, carrier_code(code), reported_at, took)


def carrier_code(err_code: str | None) -> str:
    """The code as recorded and counted: short ASCII tokens as given, anything else bounded."""
    if not err_code:
        return NO_CODE
    return err_code if _CODE.fullmatch(err_code) else OTHER_CODE


def beijing_unix(text: object) -> float | None:
    """``YYYY-MM-DD HH:MM:SS`` in Beijing time as Unix seconds; None when it is not that."""
    if not isinstance(text, str) or len(text) != 19:
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        return None


def _boolean(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _BOOLEANS.get(value.lower())
    return None


@dataclass(frozen=True, slots=True)
class DeliveryCount:
    """One delivery counter: sends whose recorded delivery became ``result`` with this code."""

    result: str
    carrier_code: str
    purpose: str
    count: int


def delivery_counts(raw: dict[str, str]) -> list[DeliveryCount]:
    """The delivery counters kept by receipts.lua (fields ``result|code|purpose``), typed."""
    counts = []
    for name, value in raw.items():
        result, _, rest = name.partition("|")
        code, _, purpose = rest.partition("|")
        counts.append(DeliveryCount(result, code, purpose, int(value)))
    return sorted(counts, key=lambda c: (c.result, c.carrier_code, c.purpose))
