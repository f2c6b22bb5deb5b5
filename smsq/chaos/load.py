"""The load: this process is the producer. It calls ``producers.send_code`` at a steady pace from a
small thread pool (a web backend's request threads) until enough sends were accepted, and records
every attempt: its ticket, or the exception it raised and how long that took.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from producers import ServiceUnavailable, send_code

#: Request threads of the "web backend": enough that a Redis outage (every call hanging for its
#: timeouts) still leaves threads to keep the pace.
PRODUCER_THREADS = 24
#: Give up after this many attempts per wanted acceptance (Redis never came back).
MAX_ATTEMPTS_FACTOR = 4


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call of ``send_code``."""

    phone: str
    lane: str
    started_at: float
    ended_at: float
    ticket: str | None = None
    #: class name of the exception when the call raised
    error: str | None = None

    @property
    def accepted(self) -> bool:
        return self.ticket is not None

    @property
    def typed_refusal(self) -> bool:
        """The call raised ServiceUnavailable (what a caller is promised while Redis is down)."""
        return self.error == ServiceUnavailable.__name__

    @property
    def latency_s(self) -> float:
        return self.ended_at - self.started_at


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """How many sends to get accepted, how fast, and which share goes to the slow lane."""

    accepted: int
    rate_per_s: float
    slow_share: float = 0.2
    slow_lane: str = "slow"


class Load:
    """Runs one :class:`LoadPlan` in a thread; ``on_accepted`` is told of every ticket at once. With
    ``hold_open``, it keeps sending past its count until that event is set (the faults are over),
    so that every fault lands under load."""

    def __init__(
        self,
        plan: LoadPlan,
        numbers: Callable[[], str],
        on_accepted: Callable[[Attempt], None],
        hold_open: threading.Event | None = None,
    ) -> None:
        self.plan = plan
        self._hold_open = hold_open
        self._numbers = numbers
        self._on_accepted = on_accepted
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._accepted = 0
        self._in_flight = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._lanes = random.Random(plan.accepted)  # noqa: S311 - a reproducible lane mix, not crypto
        self.started_at = 0.0
        self.finished_at = 0.0

    def start(self) -> None:
        self.started_at = time.time()
        self._thread.start()

    def join(self, timeout_s: float | None = None) -> None:
        self._thread.join(timeout_s)

    def stop(self) -> None:
        self._stop.set()

    @property
    def accepted(self) -> int:
        with self._lock:
            return self._accepted

    def _run(self) -> None:
        interval = 1.0 / self.plan.rate_per_s
        next_at = time.monotonic()
        with ThreadPoolExecutor(PRODUCER_THREADS, thread_name_prefix="chaos-producer") as pool:
            while not self._stop.is_set():
                held_open = self._hold_open is not None and not self._hold_open.is_set()
                with self._lock:
                    done = len(self.attempts) + self._in_flight >= MAX_ATTEMPTS_FACTOR * self.plan.accepted
                    enough = self._accepted + self._in_flight >= self.plan.accepted and not held_open
                    if done or enough:
                        if self._in_flight == 0:
                            break
                        wait = True
                    else:
                        wait = self._in_flight >= PRODUCER_THREADS
                        if not wait:
                            self._in_flight += 1
                if wait:
                    time.sleep(0.02)
                    continue
                lane = self.plan.slow_lane if self._lanes.random() < self.plan.slow_share else "default"
                pool.submit(self._send, self._numbers(), lane)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        self.finished_at = time.time()

    def _send(self, phone: str, lane: str) -> None:
        started = time.time()
        ticket = error = None
        try:
            ticket = send_code(phone, purpose="chaos", lane=lane).id
        except Exception as exc:  # every failure is a figure: its type says whether it was typed
            error = type(exc).__name__
        attempt = Attempt(phone, lane, started, time.time(), ticket, error)
        with self._lock:
            self.attempts.append(attempt)
            self._in_flight -= 1
            if attempt.accepted:
                self._accepted += 1
        if attempt.accepted:
            self._on_accepted(attempt)
