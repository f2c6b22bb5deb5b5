"""The process monitor: notices every worker process that exits, tells a crash from a kill the
runner made, and starts a dead host again after a short delay, as a supervisor would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from smsq.chaos.bed import ChaosBed, WorkerHost

#: How long a dead host stays down before its next generation starts (a supervisor's back-off).
RESTART_DELAY_S = 3.0
_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class ProcessExit:
    """A worker process that exited without the runner killing it."""

    at: float
    kind: str  # "host" (the smsq worker process) or "pool child"
    node: str
    pid: int
    returncode: int | None
    #: the first fatal log line of that host's generation, e.g. Celery's "Unrecoverable error: ..."
    last_error: str = ""


class ProcessMonitor:
    """Watches the bed's hosts and pool children in a background thread."""

    def __init__(self, bed: ChaosBed) -> None:
        self.bed = bed
        self.exits: list[ProcessExit] = []
        self.restarts = 0
        self._children: dict[int, set[int]] = {}  # host pid -> pool children seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="chaos-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.check()

    def _loop(self) -> None:
        while not self._stop.wait(_POLL_S):
            self.check()
            self._restart_dead()

    def check(self) -> None:
        """Record every process that died since the last look."""
        now = time.time()
        for host in self.bed.current_hosts():
            if host.died_at is None and not host.alive():
                host.died_at = now
                if host.killed_at is None and host.pid not in self.bed.killed_pids:
                    self.exits.append(
                        ProcessExit(
                            now, "host", host.node, host.pid, host.child.process.returncode, _fatal(host)
                        )
                    )
            if host.died_at is None:
                self._check_children(host, now)

    def _check_children(self, host: WorkerHost, now: float) -> None:
        current = set(host.pool_children())
        seen = self._children.setdefault(host.pid, set())
        for pid in seen - current:
            if pid not in self.bed.killed_pids and host.alive():
                self.exits.append(ProcessExit(now, "pool child", host.node, pid, None, ""))
        self._children[host.pid] = current

    def _restart_dead(self) -> None:
        now = time.time()
        for host in self.bed.current_hosts():
            if host.died_at is not None and now - host.died_at >= RESTART_DELAY_S:
                self.bed.replace_host(host)
                self.restarts += 1


def _fatal(host: WorkerHost) -> str:
    """The first CRITICAL line of the host's generation (Celery's "Unrecoverable error: ...")."""
    for line in host.log_since_start().splitlines():
        if "CRITICAL" in line:
            return line.strip()[:300]
    return ""
