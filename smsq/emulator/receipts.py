"""Delivery receipts (``DypnsSmsVerifyReport``): the settings, one receipt per accepted send, the batches.

This module holds no I/O: :mod:`smsq.emulator.pusher` posts the batches it hands out. Times for
scheduling are monotonic seconds passed in by the caller; the report's own times come from the
emulator's clock. Every accepted send draws exactly six numbers from its own ``Random`` stream
(``receipts:<seed>``), so with a seed the same sends get the same receipts, and the fault and code
sequences are unchanged by receipts.

A receipt goes ``pending`` → ``pushed`` (the receiver answered ``{"code": 0}``), or ``failed`` (a push
failed, a retry is scheduled) → … → ``dropped`` (the last retry failed too); ``lost`` ones are never
pushed. Receipts, the queue and the batches waiting for a retry are bounded.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

from smsq.emulator.catalog import DELIVERED, DELIVERED_MSG, NUMBER_NOT_FOUND, UNDELIVERED_CODES, sms_parts
from smsq.emulator.state import Message

#: Alibaba retries a failed push 1, 5 and 10 minutes later, then drops the batch.
RETRY_DELAYS_S: Final = (60.0, 300.0, 600.0)
BEIJING: Final = timezone(timedelta(hours=8))
MAX_BATCH_SIZE = 1000  # receipts per push; Alibaba's own maximum is unpublished
MAX_PREFIXES = 100
MAX_URL_CHARS = 2048
_DRAWS_PER_RECEIPT = 6  # undelivered, which code, duplicate, held back, how long, lost
_PREFIX = re.compile(r"1\d{0,10}\Z")
_RATES = ("undelivered_rate", "duplicate_rate", "reorder_rate", "lost_rate")


class ReceiptStatus(StrEnum):
    """Where a receipt stands, as ``GET /_emulator/messages`` shows it."""

    PENDING = "pending"  #: waiting for its delay, or for a callback URL
    PUSHED = "pushed"  #: the receiver accepted the batch that carried it
    FAILED = "failed"  #: the last push failed; a retry is scheduled
    DROPPED = "dropped"  #: the last retry failed too; never pushed again
    LOST = "lost"  #: never pushed (the ``lost_rate`` fault)


class PushOutcome(StrEnum):
    """How one push went."""

    OK = "ok"  #: HTTP 200 with a JSON object whose ``code`` is 0
    STATUS = "status"  #: an answer other than HTTP 200
    BODY = "body"  #: HTTP 200 without ``{"code": 0}``
    TIMEOUT = "timeout"  #: no complete answer within ``timeout_ms``
    CONNECTION = "connection"  #: refused, reset, or not reachable


@dataclass(frozen=True, slots=True)
class ReceiptSettings:
    """Receipt pushing and its faults; what ``GET/PUT /_emulator/receipts`` show and change."""

    url: str | None = None  # callback URL; None = no pushes (receipts wait, pending)
    delay_ms: float = 3000.0  # from the send to the first push
    batch_size: int = 100  # receipts per push at most
    timeout_ms: float = 700.0  # the receiver must answer within this
    retry_scale: float = 1.0  # multiplies the 1/5/10-minute retry schedule
    undelivered_rate: float = 0.0  # probability of success=false with a carrier code
    undelivered_prefixes: tuple[str, ...] = ()  # numbers starting with these are never delivered
    duplicate_rate: float = 0.0  # probability of a receipt being pushed again in a later batch
    reorder_rate: float = 0.0  # probability of a receipt being held back behind later ones
    lost_rate: float = 0.0  # probability of a receipt never being pushed

    def updated(self, changes: Mapping[str, Any]) -> ReceiptSettings:
        """A copy with ``changes`` applied; raises ``ValueError`` naming an unknown key or bad value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown receipt keys: {', '.join(unknown)}")
        return dataclasses.replace(self, **{name: _checked(name, value) for name, value in changes.items()})

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready data."""
        data = dataclasses.asdict(self)
        data["undelivered_prefixes"] = list(self.undelivered_prefixes)
        return data


#: Allowed ranges of the numeric settings: (lowest, highest, lowest allowed itself).
_RANGES: Final[Mapping[str, tuple[float, float, bool]]] = {
    "delay_ms": (0.0, 86_400_000.0, True),
    "timeout_ms": (0.0, 60_000.0, False),
    "retry_scale": (0.0, 1000.0, False),
    **{name: (0.0, 1.0, True) for name in _RATES},
}


def _checked(name: str, value: Any) -> Any:
    if name == "url":
        return _url(value)
    if name == "undelivered_prefixes":
        return _prefixes(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    if name == "batch_size":
        if int(value) != value or not 1 <= value <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}")
        return int(value)
    low, high, low_ok = _RANGES[name]
    if not (low <= value if low_ok else low < value) or value > high:
        raise ValueError(f"{name} must be {'from' if low_ok else 'above'} {low:g} and at most {high:g}")
    return float(value)


def _url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise ValueError(f"url must be an http(s) URL of at most {MAX_URL_CHARS} characters, or null")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("url must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry credentials")
    if any(ch.isspace() for ch in value) or parts.fragment:
        raise ValueError("url must not contain spaces or a fragment")
    return value


def _prefixes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or len(value) > MAX_PREFIXES:
        raise ValueError(f"undelivered_prefixes must be a list of at most {MAX_PREFIXES} digit strings")
    for prefix in value:
        if not isinstance(prefix, str) or not _PREFIX.match(prefix):
            raise ValueError("each undelivered prefix is 1 to 11 digits starting with 1")
    return tuple(dict.fromkeys(value))


def beijing_time(unix_s: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in Beijing time, as receipts carry their times."""
    return datetime.fromtimestamp(unix_s, UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(slots=True, eq=False)
class Receipt:
    """One send's receipt: the report that is pushed, and how its pushes went."""

    report: dict[str, Any]
    duplicate: bool  # pushed a second time, in a later batch, once the first push succeeded
    status: ReceiptStatus = ReceiptStatus.PENDING
    attempts: int = 0  # pushes of the batch that carried it (not counting its duplicate)
    accepted: int = 0  # times a receiver accepted it (2 once a duplicate went through)
    evicted: bool = False  # pushed out of the bounded state before it was sent

    def view(self) -> dict[str, Any]:
        """The ``receipt`` object of ``GET /_emulator/messages``."""
        return {
            "status": self.status.value,
            "attempts": self.attempts,
            "accepted": self.accepted,
            "success": self.report["success"],
            "err_code": self.report["err_code"],
            "duplicate": self.duplicate,
            "report": self.report,
        }


@dataclass(slots=True, eq=False)
class Batch:
    """One push: its receipts (and whether each is a duplicate copy), its fixed body, its attempts."""

    items: list[tuple[Receipt, bool]]
    body: bytes
    generation: int
    attempts: int = 0
    next_at: float = 0.0


@dataclass
class ReceiptCounters:
    """What happened to receipts since the last reset (``GET /_emulator/stats`` → ``receipts``)."""

    created: int = 0
    delivered: int = 0
    undelivered: int = 0
    lost: int = 0
    duplicated: int = 0
    pushes: int = 0
    pushes_ok: int = 0
    push_failures: dict[str, int] = field(default_factory=dict)
    receipts_pushed: int = 0
    batches_dropped: int = 0
    receipts_dropped: int = 0
    evicted: int = 0


class ReceiptBook:
    """Receipts of accepted sends, the queue of due pushes and the batches waiting for a retry."""

    def __init__(self, settings: ReceiptSettings, seed: int | None, max_receipts: int) -> None:
        self._startup = settings
        self.settings = settings
        self._seed = seed
        self._max = max_receipts
        self.listener: Callable[[], None] | None = None  # told when something may have become due
        self._generation = 0
        self._reset_state()

    def _reset_state(self) -> None:
        self._rng = random.Random(None if self._seed is None else f"receipts:{self._seed}")  # noqa: S311
        self._receipts: OrderedDict[str, Receipt] = OrderedDict()
        self._queue: list[tuple[float, int, Receipt, bool]] = []  # (due, seq, receipt, is_copy)
        self._seq = 0
        self._retries: list[Batch] = []
        self._retrying = 0  # receipts inside self._retries
        self.counters = ReceiptCounters()

    def reset(self) -> None:
        """Forget every receipt and batch; settings back to the startup options; the stream restarts."""
        self._generation += 1
        self.settings = self._startup
        self._reset_state()
        self._notify()

    def update(self, changes: Mapping[str, Any]) -> ReceiptSettings:
        """Apply a partial settings change (``ValueError`` on a bad one) and wake the pusher."""
        self.settings = self.settings.updated(changes)
        self._notify()
        return self.settings

    def _notify(self) -> None:
        if self.listener is not None:
            self.listener()

    # --- creating ----------------------------------------------------------------------------

    def record(self, message: Message, now: float) -> Receipt:
        """Create the receipt of an accepted send at monotonic time ``now``; queue it unless lost."""
        settings = self.settings
        undelivered, which, duplicate, reorder, hold, lost = (
            self._rng.random() for _ in range(_DRAWS_PER_RECEIPT)
        )
        if any(message.phone.startswith(prefix) for prefix in settings.undelivered_prefixes):
            code, text = NUMBER_NOT_FOUND, UNDELIVERED_CODES[NUMBER_NOT_FOUND]
        elif undelivered < settings.undelivered_rate:
            code = list(UNDELIVERED_CODES)[int(which * len(UNDELIVERED_CODES))]
            text = UNDELIVERED_CODES[code]
        else:
            code, text = DELIVERED, DELIVERED_MSG
        delay_s = settings.delay_ms / 1000.0
        if reorder < settings.reorder_rate:  # held back one to two extra delays: later sends overtake it
            delay_s *= 2.0 + hold
        report: dict[str, Any] = {
            "phone_number": message.phone,
            "send_time": beijing_time(message.sent_at),
            "report_time": beijing_time(message.sent_at + delay_s),
            "success": code == DELIVERED,
            "err_code": code,
            "err_msg": text,
            "sms_size": str(sms_parts(message.text)),
            "biz_id": message.biz_id,
        }
        if message.out_id is not None:
            report["out_id"] = message.out_id
        receipt = Receipt(report, duplicate=duplicate < settings.duplicate_rate)
        counters = self.counters
        counters.created += 1
        counters.duplicated += receipt.duplicate
        if report["success"]:
            counters.delivered += 1
        else:
            counters.undelivered += 1
        self._keep(message.biz_id, receipt)
        if lost < settings.lost_rate:
            receipt.status = ReceiptStatus.LOST
            counters.lost += 1
        else:
            self._enqueue(receipt, now + delay_s, is_copy=False)
        return receipt

    def _keep(self, biz_id: str, receipt: Receipt) -> None:
        self._receipts[biz_id] = receipt
        while len(self._receipts) > self._max:
            _, old = self._receipts.popitem(last=False)
            old.evicted = True
            if old.status is ReceiptStatus.PENDING:
                self.counters.evicted += 1
        if len(self._queue) > 2 * self._max:  # drop the queue entries of evicted receipts
            self._queue = [entry for entry in self._queue if not entry[2].evicted]
            heapq.heapify(self._queue)

    def _enqueue(self, receipt: Receipt, due: float, *, is_copy: bool) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (due, self._seq, receipt, is_copy))
        self._notify()

    # --- pushing -----------------------------------------------------------------------------

    def next_due(self) -> float | None:
        """When the next batch is due (monotonic seconds), or None when nothing waits or no URL is set."""
        if self.settings.url is None:
            return None
        times = [batch.next_at for batch in self._retries]
        if self._queue:
            times.append(self._queue[0][0])
        return min(times, default=None)

    def take_batch(self, now: float) -> Batch | None:
        """The next batch due at ``now``: a retry first, else up to ``batch_size`` due receipts."""
        if self.settings.url is None:
            return None
        for batch in self._retries:
            if batch.next_at <= now:
                self._retries.remove(batch)
                self._retrying -= len(batch.items)
                return self._attempt(batch)
        items: list[tuple[Receipt, bool]] = []
        while self._queue and self._queue[0][0] <= now and len(items) < self.settings.batch_size:
            _, _, receipt, is_copy = heapq.heappop(self._queue)
            if not receipt.evicted:
                items.append((receipt, is_copy))
        if not items:
            return None
        body = json.dumps([receipt.report for receipt, _ in items], ensure_ascii=False).encode("utf-8")
        return self._attempt(Batch(items, body, self._generation))

    def _attempt(self, batch: Batch) -> Batch:
        batch.attempts += 1
        for receipt, is_copy in batch.items:
            if not is_copy:
                receipt.attempts = batch.attempts
        self.counters.pushes += 1
        return batch

    def finish(self, batch: Batch, outcome: PushOutcome, now: float) -> None:
        """Record how a push of ``batch`` went: accepted, retried later, or dropped after the last retry."""
        if batch.generation != self._generation:
            return  # pushed before a reset: it belongs to state that no longer exists
        counters = self.counters
        if outcome is PushOutcome.OK:
            counters.pushes_ok += 1
            counters.receipts_pushed += len(batch.items)
            for receipt, is_copy in batch.items:
                receipt.accepted += 1
                if not is_copy:
                    receipt.status = ReceiptStatus.PUSHED
                    if receipt.duplicate:
                        self._enqueue(receipt, now + self.settings.delay_ms / 1000.0, is_copy=True)
            return
        counters.push_failures[outcome.value] = counters.push_failures.get(outcome.value, 0) + 1
        retries_done = batch.attempts - 1
        if retries_done >= len(RETRY_DELAYS_S):
            self._drop(batch)
            return
        for receipt, is_copy in batch.items:
            if not is_copy:
                receipt.status = ReceiptStatus.FAILED
        batch.next_at = now + RETRY_DELAYS_S[retries_done] * self.settings.retry_scale
        self._retries.append(batch)
        self._retrying += len(batch.items)
        while self._retrying > self._max:  # bounded: the oldest waiting batch gives way
            oldest = self._retries.pop(0)
            self._retrying -= len(oldest.items)
            self._drop(oldest)
        self._notify()

    def _drop(self, batch: Batch) -> None:
        self.counters.batches_dropped += 1
        self.counters.receipts_dropped += len(batch.items)
        for receipt, is_copy in batch.items:
            if not is_copy:
                receipt.status = ReceiptStatus.DROPPED

    # --- reading -----------------------------------------------------------------------------

    def get(self, biz_id: str) -> Receipt | None:
        """The receipt of the send with this BizId, if it is still kept."""
        return self._receipts.get(biz_id)

    def stats(self) -> dict[str, Any]:
        """Counters plus what waits now (``pending`` receipts queued, ``retrying`` inside retry batches)."""
        return {
            **dataclasses.asdict(self.counters),
            "pending": len(self._queue),
            "retrying": self._retrying,
            "kept": len(self._receipts),
        }
