"""The fault injectors: ``kill -9`` of a worker process or a whole host, Redis killed and restarted
from its AOF, Redis unreachable, and provider faults. Each returns a :class:`FaultEvent` saying
what was hit and when.

Targets are chosen through Celery's public remote control (``inspect``): a worker process that is
running a send right now, so that a kill lands mid-call, and what that process held (running,
reserved, waiting for an ETA) just before the kill. That set is an estimate taken a few
milliseconds early; the judge also reports a bound that does not depend on it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from producers import SmsqError, get_status
from producers.publisher import producer_app
from smsq.chaos.bed import ChaosBed, WorkerHost

#: 30 % of provider requests fail: throttling, 5xx (JSON and an HTML 502), dropped connections,
#: and hangs (the request is processed, the answer never comes in time: ambiguous).
PROVIDER_FAULTS = {
    "throttle_rate": 0.06,
    "error_500_rate": 0.04,
    "error_502_rate": 0.03,
    "error_503_rate": 0.05,
    "drop_rate": 0.06,
    "hang_rate": 0.06,
}
NO_PROVIDER_FAULTS = dict.fromkeys(PROVIDER_FAULTS, 0.0)
#: A pool child this old has started (billiard's handshake takes well under a second here).
STARTED_AFTER_S = 3.0
#: How long a killed Redis stays down before it is started again from its AOF.
REDIS_DOWN_S = 2.0
#: How long Redis stays unreachable in an outage.
REDIS_OUTAGE_S = 20.0
_INSPECT_TIMEOUT_S = 1.0


@dataclass
class FaultEvent:
    """One fault: what, when, and whom it hit."""

    kind: str
    started_at: float
    ended_at: float
    target: str = ""
    pids: list[int] = field(default_factory=list)
    #: tickets the killed process held just before the kill (Celery inspect); None when unknown
    held: list[str] | None = None
    #: True when the target was running a send as it was killed; None when unknown
    mid_call: bool | None = None
    #: task runs of each held send read right after the kill (a dead process cannot add one, so
    #: a higher count later is another worker taking the send over)
    held_runs: dict[str, int] = field(default_factory=dict)


class Injector:
    """Pulls the bed's levers and records every pull."""

    def __init__(self, bed: ChaosBed, seed: int) -> None:
        self.bed = bed
        self.events: list[FaultEvent] = []
        self._random = random.Random(seed)  # noqa: S311 - reproducible target choice, not crypto

    def run(self, kind: str) -> FaultEvent:
        """Inject the fault named ``kind`` (a scenario step)."""
        actions = {
            "kill-worker": self.kill_worker,
            "kill-host": self.kill_host,
            "redis-restart": self.redis_restart,
            "redis-outage": self.redis_outage,
        }
        started = time.time()
        try:
            event = actions[kind]()
        except Exception as exc:  # a lever that failed is a finding of the report, not a crash
            event = FaultEvent(kind, started, time.time(), f"failed: {exc!r}")
        event.held_runs = _runs_of(event.held or [])
        self.events.append(event)
        return event

    def kill_worker(self) -> FaultEvent:
        """SIGKILL one worker process mid-call: a pool child (prefork), or the process (threads)."""
        if self.bed.config.pool != "prefork":
            event = self.kill_host()
            event.kind = "kill-worker"
            return event
        hosts = self.bed.live_hosts()
        active = self._inspect("active", expected=len(hosts))
        # a child still starting is never mid-call, and billiard ends the whole worker when one dies
        # before it reported itself up ("Could not start worker processes"): not the fault meant here
        children = {pid: host for host in hosts for pid in host.pool_children(older_than_s=STARTED_AFTER_S)}
        running = [
            request
            for requests in (active or {}).values()
            for request in requests
            if request.get("worker_pid") in children
        ]
        if running:
            newest = max(running, key=lambda request: request.get("time_start") or 0.0)
            pid = int(newest["worker_pid"])
            held = [r["id"] for r in running if r.get("worker_pid") == pid]
        elif children:
            pid, held = self._random.choice(sorted(children)), None
        else:
            return self._missed("kill-worker")
        started = time.time()
        self.bed.kill_pid(pid)
        return FaultEvent(
            "kill-worker",
            started,
            time.time(),
            f"{children[pid].node} pool child",
            [pid],
            held,
            bool(running) if active is not None else None,
        )

    def kill_host(self) -> FaultEvent:
        """SIGKILL every process of one ``smsq worker`` host, preferring one running a send."""
        hosts = self.bed.live_hosts()
        if not hosts:
            return self._missed("kill-host")
        active = self._inspect("active", expected=len(hosts))
        busy = [host for host in hosts if (active or {}).get(host.node)]
        host = self._random.choice(busy or hosts)
        held = self._held_by(host) if active is not None else None
        started = time.time()
        pids = self.bed.kill_host(host)
        mid_call = bool(busy) if active is not None else None
        return FaultEvent("kill-host", started, time.time(), host.node, pids, held, mid_call)

    def redis_restart(self) -> FaultEvent:
        """SIGKILL Redis, keep it down :data:`REDIS_DOWN_S`, start it again from its AOF."""
        started = time.time()
        self.bed.kill_redis()
        time.sleep(REDIS_DOWN_S)
        self.bed.start_redis()
        return FaultEvent("redis-restart", started, time.time(), "redis")

    def redis_outage(self) -> FaultEvent:
        """Make Redis unreachable (frozen) for :data:`REDIS_OUTAGE_S`."""
        started = time.time()
        self.bed.freeze_redis()
        try:
            time.sleep(REDIS_OUTAGE_S)
        finally:
            self.bed.thaw_redis()
        return FaultEvent("redis-outage", started, time.time(), "redis")

    def provider_faults(self, on: bool) -> None:
        """Turn the provider's fault rates on or off."""
        self.bed.emulator.set_faults(**(PROVIDER_FAULTS if on else NO_PROVIDER_FAULTS))

    def _held_by(self, host: WorkerHost) -> list[str] | None:
        """Every send the host holds: scheduled (ETA), reserved (prefetched) and running, asked in
        that order so the last answer (running sends) is the freshest at the kill."""
        held: set[str] = set()
        for method in ("scheduled", "reserved", "active"):
            replies = self._inspect(method, host.node, expected=1)
            if replies is None:
                return None
            for item in replies.get(host.node) or []:
                held.add(item["request"]["id"] if method == "scheduled" else item["id"])
        return sorted(held)

    @staticmethod
    def _inspect(method: str, node: str | None = None, *, expected: int) -> dict[str, Any] | None:
        """One Celery ``inspect`` call to every worker (or to ``node``), done as soon as
        ``expected`` workers answered; None when it failed."""
        inspector = producer_app().control.inspect(
            destination=[node] if node else None, timeout=_INSPECT_TIMEOUT_S, limit=expected
        )
        try:
            replies: dict[str, Any] | None = getattr(inspector, method)()
        except Exception:  # Redis may be down in the combined scenario: target blindly then
            return None
        return replies or {}

    @staticmethod
    def _missed(kind: str) -> FaultEvent:
        now = time.time()
        return FaultEvent(kind, now, now, "no live target")


def _runs_of(tickets: list[str]) -> dict[str, int]:
    """The task runs each send has had so far (those Redis can tell now)."""
    runs = {}
    for ticket in tickets:
        try:
            runs[ticket] = get_status(ticket).attempts
        except SmsqError:  # Redis down in the combined scenario, or the record gone
            continue
    return runs
