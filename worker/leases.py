"""Leases of the runs in flight, renewed while they run.

A run claims its send with a short lease (``SMSQ_RUN_LEASE_S``); a thread of the process the run
executes in renews every lease it holds three times per lease. A run in a process that dies stops
being renewed, its lease lapses, and the recovery sweep hands the send to another worker within
about one lease.
A run that is merely slow keeps its send however long the provider takes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator

import redis

from producers.constants import inflight_key, lease_key
from producers.errors import ServiceUnavailable
from producers.scripts import Scripts

log = logging.getLogger("smsq.leases")


class LeaseKeeper:
    """The leases of one process's runs (thread-safe), renewed by a daemon thread of that process."""

    def __init__(self, client: redis.Redis, lease_s: float) -> None:
        self._scripts = Scripts(client, "worker")
        self._lease_ms = int(lease_s * 1000)
        self._every_s = lease_s / 3  # three chances before a lease lapses
        self._held: dict[str, str] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @contextlib.contextmanager
    def holding(self, ticket: str, token: str) -> Iterator[None]:
        """Keep the lease ``token`` on ``ticket`` renewed while the block runs."""
        with self._lock:
            self._held[ticket] = token
            self._ensure_thread()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(ticket, None)

    def still_holds(self, ticket: str, token: str) -> bool:
        """Renew the lease ``token`` on ``ticket`` now; False when it lapsed and is no longer this
        run's (another run may hold the send)."""
        renewed: int = self._scripts.run(
            "renew", [lease_key(ticket), inflight_key()], [self._lease_ms, token, ticket]
        )
        return renewed == 1

    def renew(self) -> int:
        """Renew every lease held now; returns how many were still this process's."""
        with self._lock:
            held = list(self._held.items())
        if not held:
            return 0
        keys = [lease_key(ticket) for ticket, _ in held] + [inflight_key()]
        args: list[object] = [self._lease_ms]
        for ticket, token in held:
            args += [token, ticket]
        renewed: int = self._scripts.run("renew", keys, args)
        return renewed

    def _ensure_thread(self) -> None:
        # one thread per process: a prefork child starts its own after the fork
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._loop, name="smsq-lease-keeper", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(self._every_s):
            try:
                self.renew()
            except ServiceUnavailable:
                log.warning("lease.renew_failed: Redis is unavailable")
