"""The chaos bed: a private persistent Redis, the emulator and ``smsq worker`` hosts, all started with
:class:`~smsq.devstack.processes.Stack`, and the levers the fault injectors pull on them.

A *host* is one ``smsq worker`` process (node ``host<i>.<generation>@chaos``) with its pool; a thread
pool runs inside that process, a prefork pool in child processes of it (found with psutil). A host
that dies is started again by :meth:`ChaosBed.replace_host`, as a supervisor would.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from producers.keyring import Keyring
from smsq.devstack.processes import Child, Stack
from smsq.emulator.remote import EmulatorRemote
from smsq.net import free_port

KEY_ID = "chaos-key"
KEY_SECRET = "chaos-secret-0123456789"  # noqa: S105 - the emulator's test key, nothing real

#: How long a worker may take to print "ready." on a busy 2-core machine.
WORKER_READY_S = 120.0

#: Abuse limits off: every send the runner makes must be accepted unless Redis is down.
OPEN_LIMITS = {
    "SMSQ_PHONE_LIMITS": "",
    "SMSQ_IP_LIMITS": "",
    "SMSQ_PREFIX_LIMITS": "",
    "SMSQ_PURPOSE_LIMITS": "",
    "SMSQ_PUMPING_MODE": "off",  # its sends never verify: the pumping breaker would trip
}


@dataclass(frozen=True, slots=True)
class BedConfig:
    """What the bed runs: the pool, how many hosts, and the provider's behaviour."""

    pool: str = "threads"
    hosts: int = 3
    concurrency: int = 4
    #: lane -> rate; the slow lane keeps a backlog waiting for its rate during the load
    lanes: tuple[tuple[str, str], ...] = (("default", "50/second"), ("slow", "1/second"))
    provider_latency_ms: int = 300
    seed: int = 7


@dataclass
class WorkerHost:
    """One ``smsq worker`` process and its pool."""

    index: int
    generation: int
    node: str
    child: Child
    started_at: float
    #: set when the runner sent SIGKILL (so its death is not counted as a crash)
    killed_at: float | None = None
    died_at: float | None = None
    #: where this generation's output starts in the host's log (generations share the file)
    log_offset: int = 0

    def log_since_start(self) -> str:
        """What this generation of the host has logged so far."""
        path = self.child.log_path
        if path is None:
            return ""
        with path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    @property
    def pid(self) -> int:
        return self.child.process.pid

    def alive(self) -> bool:
        return self.child.alive()

    def pool_children(self, *, older_than_s: float = 0.0) -> list[int]:
        """Pids of the pool processes (prefork) started at least ``older_than_s`` ago; empty for a
        thread pool."""
        born_before = time.time() - older_than_s
        try:
            children = psutil.Process(self.pid).children(recursive=True)
            return [proc.pid for proc in children if proc.create_time() <= born_before]
        except psutil.Error:
            return []


@dataclass
class ChaosBed:
    """Redis (AOF, fixed port), the emulator and the worker hosts of one pool."""

    stack: Stack
    config: BedConfig
    redis_port: int = field(default_factory=free_port)
    hosts: list[WorkerHost] = field(default_factory=list)
    #: every pid the runner killed on purpose (hosts and pool children)
    killed_pids: set[int] = field(default_factory=set)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _redis: Child | None = None
    _frozen: bool = False
    emulator: EmulatorRemote = field(init=False)
    #: the bed's own data keys (key names hashed, numbers sealed), the same for every process
    data_keys: dict[str, str] = field(
        default_factory=lambda: {
            "SMSQ_HASH_KEYS": Keyring.new_hash_key(),
            "SMSQ_ENCRYPTION_KEYS": Keyring.new_encryption_key(),
        }
    )

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def aof_dir(self) -> Path:
        return self.stack.log_dir / "redis-data"

    def start(self) -> None:
        """Start Redis and the emulator, then every host, and wait until all are ready."""
        self.aof_dir.mkdir(exist_ok=True)
        self.start_redis()
        endpoint = self.stack.emulator(
            free_port(),
            KEY_ID,
            KEY_SECRET,
            [
                "--latency-ms",
                str(self.config.provider_latency_ms),
                "--daily-limit",
                "0",
                "--rate-limit",
                "0",
                "--seed",
                str(self.config.seed),
            ],
        )
        self.emulator = EmulatorRemote(endpoint, timeout_s=10)
        started = [self._spawn_host(index, 0) for index in range(self.config.hosts)]
        for host in started:
            host.child.wait_for_log("ready.", WORKER_READY_S)

    def env(self) -> dict[str, str]:
        """The variables a producer or worker needs for this bed."""
        return {
            "SMSQ_REDIS_URL": self.redis_url,
            "SMSQ_ALIYUN_ENDPOINT": self.emulator.endpoint,
            "SMSQ_ALIYUN_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY_SECRET,
            "SMSQ_LANES": json.dumps(dict(self.config.lanes)),
            "SMSQ_METRICS_PORT": "0",
            "SMSQ_HEARTBEAT_FILE": str(self.stack.log_dir / "worker.heartbeat"),
            **self.data_keys,
            **OPEN_LIMITS,
        }

    # --- Redis ----------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start (or start again) Redis on the bed's port, from its AOF when there is one."""
        self._redis = self.stack.redis_server(self.redis_port, aof_dir=self.aof_dir)

    def kill_redis(self) -> None:
        """SIGKILL Redis and wait until it is gone."""
        assert self._redis is not None
        self._redis.process.send_signal(signal.SIGKILL)
        self._redis.process.wait(timeout=10)

    def freeze_redis(self) -> None:
        """Stop Redis (SIGSTOP): its port still completes TCP handshakes (the kernel's backlog),
        but nothing answers, so every client waits for its connect or read timeout."""
        assert self._redis is not None
        self._redis.process.send_signal(signal.SIGSTOP)
        self._frozen = True

    def thaw_redis(self) -> None:
        """Let a frozen Redis run again (SIGCONT)."""
        if self._redis is not None and self._frozen:
            self._redis.process.send_signal(signal.SIGCONT)
            self._frozen = False

    # --- worker hosts ---------------------------------------------------------------------------

    def _spawn_host(self, index: int, generation: int) -> WorkerHost:
        node = f"host{index}.{generation}@chaos"
        log = self.stack.log_dir / f"host{index}.log"
        offset = log.stat().st_size if log.exists() else 0
        child = self.stack.smsq_worker(
            self.env(),
            node=node,
            pool=self.config.pool,
            concurrency=self.config.concurrency,
            name=f"host{index}",
        )
        host = WorkerHost(index, generation, node, child, time.time(), log_offset=offset)
        with self.lock:
            self.hosts.append(host)
        return host

    def live_hosts(self) -> list[WorkerHost]:
        """Hosts whose main process runs and that the runner has not killed."""
        with self.lock:
            return [host for host in self.hosts if host.killed_at is None and host.alive()]

    def current_hosts(self) -> list[WorkerHost]:
        """The newest generation of every host index."""
        with self.lock:
            newest: dict[int, WorkerHost] = {}
            for host in self.hosts:
                if host.index not in newest or host.generation > newest[host.index].generation:
                    newest[host.index] = host
            return list(newest.values())

    def replace_host(self, host: WorkerHost) -> WorkerHost:
        """Start the next generation of a dead host (the supervisor's restart)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(host.pid, signal.SIGKILL)  # leftovers of its pool
        return self._spawn_host(host.index, host.generation + 1)

    def kill_host(self, host: WorkerHost) -> list[int]:
        """SIGKILL every process of a host at once (its process group); return their pids."""
        pids = [host.pid, *host.pool_children()]
        with self.lock:
            host.killed_at = time.time()
            self.killed_pids.update(pids)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(host.pid, signal.SIGKILL)
        return pids

    def kill_pid(self, pid: int) -> None:
        """SIGKILL one process (a pool child)."""
        with self.lock:
            self.killed_pids.add(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
