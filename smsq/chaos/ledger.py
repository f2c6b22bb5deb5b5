"""The ledger: what the outside world can see of every accepted send, watched over time.

It reads only two things, so that a bug in smsq cannot hide itself: smsq's public status lookup
(``producers.get_status``) for each ticket, and the emulator's outbox (what reached a phone). A
send's first final state is remembered with the time it was first seen; every later change of that
state is kept as evidence.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from producers import ServiceUnavailable, SmsqError, TicketNotFound, get_status
from smsq.chaos.load import Attempt
from smsq.emulator.remote import EmulatorRemote

#: How often a send not yet final is looked up (also the precision of "time until final").
PENDING_POLL_S = 1.0
#: How often a send already final is looked up again, to catch a final state that changes.
FINAL_POLL_S = 10.0
#: How often the outbox is read (it keeps the newest 1000 messages only).
OUTBOX_POLL_S = 2.0
_OUTBOX_CAPACITY = 1000
_FINAL = frozenset({"sent", "verified", "failed", "expired"})


@dataclass(frozen=True, slots=True)
class Sighting:
    """A state (and reason) as the status lookup showed it, and when."""

    state: str
    reason: str | None
    at: float
    #: task runs that had taken the send by then (a takeover raises it)
    attempts: int = 0
    #: the rate slot reserved for a parked send (Redis clock, Unix s)
    waiting_until: float | None = None

    @property
    def final(self) -> bool:
        return self.state in _FINAL

    @property
    def label(self) -> str:
        return f"{self.state}/{self.reason}" if self.reason else self.state


@dataclass
class Entry:
    """One accepted send and everything seen of it."""

    ticket: str
    phone: str
    lane: str
    scenario: str
    accepted_at: float
    first_final: Sighting | None = None
    last: Sighting | None = None
    #: (first final, later different) pairs: a final state must never change
    changes: list[tuple[Sighting, Sighting]] = field(default_factory=list)
    #: every sighting that differed from the one before it (state, reason, runs or rate slot)
    history: list[Sighting] = field(default_factory=list)
    #: when the lookup first said the ticket does not exist (the record vanished)
    missing_at: float | None = None
    polled_at: float = 0.0


class Ledger:
    """Watches every accepted send and the outbox in a background thread."""

    def __init__(self, emulator: EmulatorRemote) -> None:
        self._emulator = emulator
        self.entries: dict[str, Entry] = {}
        #: outbox messages by biz id (unique per SMS)
        self.messages: dict[str, dict[str, Any]] = {}
        #: True when the outbox may have dropped messages between two reads (it keeps 1000)
        self.outbox_gap = False
        self.status_errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-ledger", daemon=True)
        self._outbox_read_at = 0.0

    def add(self, attempt: Attempt, scenario: str) -> None:
        """Start watching an accepted send."""
        assert attempt.ticket is not None
        with self._lock:
            self.entries[attempt.ticket] = Entry(
                attempt.ticket, attempt.phone, attempt.lane, scenario, attempt.ended_at
            )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def of(self, scenario: str) -> list[Entry]:
        with self._lock:
            return [entry for entry in self.entries.values() if entry.scenario == scenario]

    def pending(self, scenario: str | None = None) -> int:
        """Accepted sends not yet seen in a final state."""
        with self._lock:
            return sum(
                1
                for entry in self.entries.values()
                if entry.first_final is None and (scenario is None or entry.scenario == scenario)
            )

    def poll(self, *, everything: bool = False) -> None:
        """Look every due ticket (or every ticket) up once, and read the outbox if it is due."""
        now = time.time()
        if everything or now - self._outbox_read_at >= OUTBOX_POLL_S:
            self._read_outbox()
        with self._lock:
            due = [
                entry
                for entry in self.entries.values()
                if everything
                or now - entry.polled_at >= (FINAL_POLL_S if entry.first_final else PENDING_POLL_S)
            ]
        for entry in due:
            if (self._stop.is_set() and not everything) or not self._look_up(entry):
                return

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception:  # the watch must outlive any single failure
                self.status_errors += 1
            self._stop.wait(max(0.05, 0.25 - (time.monotonic() - started)))
        self.poll(everything=True)  # a last look at every ticket and the outbox

    def _look_up(self, entry: Entry) -> bool:
        """Record the ticket's state now; False when Redis is unavailable (try later)."""
        try:
            status = get_status(entry.ticket)
        except TicketNotFound:
            entry.missing_at = entry.missing_at or time.time()
            entry.polled_at = time.time()
            return True
        except ServiceUnavailable:
            self.status_errors += 1
            return False
        except SmsqError:
            self.status_errors += 1
            return True
        seen = Sighting(str(status.state), status.reason, time.time(), status.attempts, status.waiting_until)
        entry.polled_at = seen.at
        with self._lock:
            if entry.last is None or _shape(entry.last) != _shape(seen):
                entry.history.append(seen)
            entry.last = seen
            if entry.first_final is None:
                if seen.final:
                    entry.first_final = seen
            elif (seen.state, seen.reason) != (entry.first_final.state, entry.first_final.reason):
                known = {(later.state, later.reason) for _, later in entry.changes}
                if (seen.state, seen.reason) not in known:
                    entry.changes.append((entry.first_final, seen))
        return True

    def _read_outbox(self) -> None:
        try:
            batch = self._emulator.messages()
        except OSError:
            return
        self._outbox_read_at = time.time()
        with self._lock:
            fresh = [message for message in batch if message["biz_id"] not in self.messages]
            if len(batch) >= _OUTBOX_CAPACITY and len(fresh) == len(batch):
                self.outbox_gap = True  # every message is new: older ones may have been dropped
            for message in fresh:
                self.messages[message["biz_id"]] = message


def _shape(seen: Sighting) -> tuple[str, str | None, int, float | None]:
    return seen.state, seen.reason, seen.attempts, seen.waiting_until
