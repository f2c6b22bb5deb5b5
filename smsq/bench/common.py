"""What every benchmark shares: a private test bed (embedded Redis + emulator), phone numbers,
percentiles, progress bars and an RSS sampler.

The benchmark process is itself a producer: :meth:`Bed.producer` points this process's smsq
settings at the bed (environment variables, then the per-process caches are dropped) and puts the
previous environment back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from producers.keyring import Keyring
from producers.process import reset_caches
from smsq.devstack.processes import Child, Stack, worker_arguments
from smsq.emulator.remote import EmulatorRemote
from smsq.net import free_port

KEY_ID = "bench-key"
KEY_SECRET = "bench-secret-0123456789"

#: Every benchmark run gets these: nothing may block a send except what a benchmark measures.
OPEN_LIMITS = {
    "SMSQ_PHONE_LIMITS": "",
    "SMSQ_IP_LIMITS": "",
    "SMSQ_PREFIX_LIMITS": "",
    "SMSQ_PURPOSE_LIMITS": "",
    "SMSQ_LANES": json.dumps({"default": "100000/second"}),
    "SMSQ_ACCOUNT_RATE": "100000/second",
    "SMSQ_CHECK_MAX_FAILURES": "1000000000",
    "SMSQ_CHECK_IP_LIMITS": "",
    "SMSQ_CHECK_LIMITS": "",
    # the benchmarks send to sequential numbers that never verify: exactly what the breaker stops
    "SMSQ_PUMPING_MODE": "off",
}

#: How long a worker may take to print "ready." on a busy 2-core machine.
WORKER_READY_S = 90.0
#: How long one control broadcast waits for replies, and how long a node may take to answer at all.
CONTROL_REPLY_S = 1.0
CONTROL_TIMEOUT_S = 30.0


class Numbers:
    """Distinct valid mainland mobile numbers: the emulator allows one send per number per minute."""

    def __init__(self, prefix: str = "135") -> None:
        self._prefix = prefix
        self._next = random.SystemRandom().randrange(0, 50_000_000)

    def take(self) -> str:
        self._next += 1
        return f"{self._prefix}{self._next % 100_000_000:08d}"

    def many(self, count: int) -> list[str]:
        return [self.take() for _ in range(count)]


class Emulator(EmulatorRemote):
    """A running emulator: its control endpoints, and SDK clients for it."""

    def sdk_config(self) -> Any:
        """The seed article's client configuration: keys, endpoint, protocol (plus our timeouts)."""
        from alibabacloud_tea_openapi import models as open_api_models  # noqa: PLC0415

        return open_api_models.Config(
            access_key_id=KEY_ID,
            access_key_secret=KEY_SECRET,
            endpoint=self.endpoint,
            protocol="http",
            connect_timeout=2000,
            read_timeout=5000,
        )

    def sdk_client(self) -> Any:
        from alibabacloud_dypnsapi20170525.client import Client  # noqa: PLC0415

        return Client(self.sdk_config())


def producer_app() -> Any:
    """A fresh producer-side Celery app with smsq's own publishing settings (the bare-Celery baseline
    and the benchmarks' task publisher)."""
    from celery import Celery  # noqa: PLC0415

    from producers.publisher import broker_options  # noqa: PLC0415
    from producers.settings import get_settings  # noqa: PLC0415

    app = Celery("bench-producer", set_as_current=False)
    app.conf.update(broker_options(get_settings()))
    return app


def sdk_send_request(phone: str) -> Any:
    """The SendSmsVerifyCode request smsq's worker makes (same sign, template, scheme)."""
    from alibabacloud_dypnsapi20170525 import models  # noqa: PLC0415

    return models.SendSmsVerifyCodeRequest(
        phone_number=phone,
        sign_name="速通互联验证码",
        template_code="100001",
        template_param='{"code":"##code##","min":"5"}',
        scheme_name="默认方案",
        code_length=6,  # smsq's default (SMSQ_CODE_LENGTH)
        valid_time=300,
        interval=60,
        duplicate_policy=1,
    )


def sdk_check_request(phone: str, code: str) -> Any:
    from alibabacloud_dypnsapi20170525 import models  # noqa: PLC0415

    return models.CheckSmsVerifyCodeRequest(
        phone_number=phone, verify_code=code, scheme_name="默认方案", case_auth_policy=1
    )


def sdk_runtime() -> Any:
    from alibabacloud_tea_util import models as util_models  # noqa: PLC0415

    return util_models.RuntimeOptions(read_timeout=5000, connect_timeout=2000)


class Bed:
    """One benchmark's private Redis and emulator, and the environment that points smsq at them."""

    def __init__(self, stack: Stack, emulator_args: Sequence[str] = ()) -> None:
        self.stack = stack
        self.redis_url = stack.redis()
        self.redis_pid = stack.children[-1].process.pid
        port = free_port()
        self.emulator = Emulator(
            stack.emulator(port, KEY_ID, KEY_SECRET, ["--daily-limit", "0", *emulator_args])
        )
        self.emulator_pid = stack.children[-1].process.pid
        # this bed's own data keys (producers.keyring), shared by its producers and workers
        self.data_keys = {
            "SMSQ_HASH_KEYS": Keyring.new_hash_key(),
            "SMSQ_ENCRYPTION_KEYS": Keyring.new_encryption_key(),
        }

    def env(self, **overrides: str) -> dict[str, str]:
        """The variables a producer or worker needs for this bed."""
        env = {
            "SMSQ_REDIS_URL": self.redis_url,
            "SMSQ_ALIYUN_ENDPOINT": self.emulator.endpoint,
            "SMSQ_ALIYUN_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY_SECRET,
            **self.data_keys,
            "SMSQ_METRICS_PORT": "0",
            "SMSQ_HEARTBEAT_FILE": str(self.stack.log_dir / "worker.heartbeat"),
            **OPEN_LIMITS,
        }
        env.update(overrides)
        return env

    @contextlib.contextmanager
    def producer(self, **overrides: str) -> Iterator[dict[str, str]]:
        """Configure this process as an smsq producer of the bed for the duration of the block."""
        env = self.env(**overrides)
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        reset_caches()
        try:
            yield env
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            reset_caches()

    def workers(
        self,
        env: dict[str, str],
        *,
        count: int,
        concurrency: int,
        queues: Sequence[str],
        app: str = "worker.app",
        name: str = "worker",
    ) -> Workers:
        """Start ``count`` Celery worker processes (threads pool) and wait until every one is ready."""
        group = Workers()
        for index in range(count):
            node = f"{name}{index}-{secrets.token_hex(3)}@bench"
            arguments = worker_arguments(queues=queues, concurrency=concurrency, pool="threads", node=node)
            # no gossip or mingle chatter between benchmark workers (remote control stays on)
            argv = [
                *(sys.executable, "-m", "celery", "-A", app, "worker"),
                *arguments,
                *("--without-gossip", "--without-mingle"),
            ]
            group.children.append(self.stack.spawn(f"{name}{index}", argv, env))
            group.nodes.append(node)
        for child in group.children:
            child.wait_for_log("ready.", WORKER_READY_S)
        return group


@dataclass
class Workers:
    """Worker processes started by :meth:`Bed.workers` and their Celery node names."""

    children: list[Child] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self.children]

    def stop(self) -> None:
        for child in self.children:
            child.stop(timeout_s=20)


def tell_workers(app: Any, command: str, queue: str, nodes: list[str]) -> None:
    """Broadcast ``add_consumer`` or ``cancel_consumer`` of ``queue`` until every node answered: a
    worker that has just printed "ready." may not be listening to broadcasts yet, and a broadcast
    nobody hears is lost without an error."""
    waiting = list(nodes)
    deadline = time.perf_counter() + CONTROL_TIMEOUT_S
    while waiting:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{command} {queue}: no answer from {', '.join(waiting)}")
        replies = getattr(app.control, command)(
            queue, destination=waiting, reply=True, limit=len(waiting), timeout=CONTROL_REPLY_S
        )
        answered = {node for reply in replies or [] for node in reply}
        waiting = [node for node in waiting if node not in answered]


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99, mean and count of latency samples in milliseconds (nearest rank)."""
    ordered = sorted(samples_ms)
    if not ordered:
        return {"n": 0}

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    return {
        "n": len(ordered),
        "p50_ms": round(rank(0.50), 4),
        "p95_ms": round(rank(0.95), 4),
        "p99_ms": round(rank(0.99), 4),
        "mean_ms": round(sum(ordered) / len(ordered), 4),
    }


def interleaved(
    variants: dict[str, Callable[[], object]],
    rounds: int,
    *,
    label: str,
    seed: int,
    warmup_rounds: int,
    runs_in: Callable[[str, int], bool] = lambda name, index: True,
) -> dict[str, list[float]]:
    """Latencies (ms) of every variant, measured in shuffled rounds so drift hits them all alike.
    ``runs_in(name, index)`` may leave a variant out of a round (a slow baseline, say)."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    shuffler = random.Random(seed)
    bar = progress(rounds, label)
    for index in range(-warmup_rounds, rounds):
        names = [name for name in variants if runs_in(name, index)]
        shuffler.shuffle(names)
        for name in names:
            elapsed = timed_ms(variants[name])
            if index >= 0:
                samples[name].append(elapsed)
        if index >= 0:
            bar.update()
    bar.close()
    return samples


def timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


class _PlainProgress:
    """A stand-in for tqdm when it is not installed: one line on stderr when the work ends."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self._started = time.monotonic()

    def update(self, amount: int = 1) -> None:
        self.n += amount

    def set_postfix_str(self, text: str) -> None:
        del text

    def close(self) -> None:
        seconds = time.monotonic() - self._started
        print(f"{self.desc}: {self.n} in {seconds:.1f} s", file=sys.stderr)


def progress(total: int | None, desc: str) -> Any:
    """A progress bar on stderr (tqdm when installed)."""
    try:
        from tqdm import tqdm  # noqa: PLC0415 - a dev extra; the plain fallback works without it
    except ImportError:
        return _PlainProgress(total, desc)
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, mininterval=0.2)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its descendants (psutil when installed, else /proc)."""
    try:
        import psutil  # noqa: PLC0415 - a dev extra
    except ImportError:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0
    try:
        process = psutil.Process(pid)
        total = int(process.memory_info().rss)
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += int(child.memory_info().rss)
        return total
    except psutil.Error:
        return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (Linux ``/proc``; 0.0 elsewhere or once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # fields[11], fields[12]: utime, stime in clock ticks (fields 14 and 15 of proc(5))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds each named process spent between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self._pids = pids
        self._before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in self._pids.items()}

    def start(self) -> None:
        self._before = self._now()

    def stop(self) -> None:
        after = self._now()
        self.spent = {name: after[name] - self._before[name] for name in after}

    def ms_per(self, count: int) -> dict[str, float]:
        """CPU milliseconds per unit of work, by process name."""
        return {name: round(seconds * 1000 / count, 3) for name, seconds in self.spent.items()}


class RssSampler:
    """Samples the RSS of worker processes (and their children) every ``interval_s`` in a thread."""

    def __init__(self, pids: Sequence[int], interval_s: float = 0.2) -> None:
        self.peaks = dict.fromkeys(pids, 0)
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> None:
        for pid in self.peaks:
            self.peaks[pid] = max(self.peaks[pid], _rss_bytes(pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def peak_mb(self) -> list[float]:
        return [round(value / 2**20, 1) for value in self.peaks.values()]
