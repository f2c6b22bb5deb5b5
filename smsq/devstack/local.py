"""Bring up the local stack ``smsq dev`` and ``smsq demo`` run on, and describe it.

Redis: the one at ``SMSQ_REDIS_URL`` when it answers, else an embedded ``redis-server``.
Provider: real Alibaba when credentials are configured, else the emulator with generated keys.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from producers.constants import NO_CLOUD_PROBES
from producers.settings import get_settings
from smsq.devstack.processes import Stack, http_ok, redis_answers
from smsq.net import port_or_free

#: Where a running ``smsq dev`` describes itself, so ``smsq demo`` can reuse it.
STATE_FILE = Path(tempfile.gettempdir()) / "smsq-dev.json"


@dataclass
class LocalStack:
    """What is running and how to reach it."""

    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""
    redis_embedded: bool = False
    emulator_url: str | None = None
    flower_url: str | None = None
    metrics_url: str | None = None

    def save(self, pid: int) -> None:
        """Describe this stack for ``smsq demo`` (removed when the stack stops)."""
        STATE_FILE.write_text(json.dumps({"pid": pid, **self.__dict__}))

    @staticmethod
    def load_running() -> LocalStack | None:
        """The stack a live ``smsq dev`` described, if its parts still answer."""
        try:
            data = json.loads(STATE_FILE.read_text())
            os.kill(int(data.pop("pid")), 0)
        except (OSError, ValueError, KeyError):
            return None
        stack = LocalStack(**data)
        if not redis_answers(stack.redis_url):
            return None
        if stack.emulator_url and not http_ok(f"{stack.emulator_url}/_emulator/health"):
            return None
        return stack


def start_core(
    stack: Stack, *, force_emulator: bool = False, emulator_args: tuple[str, ...] = ()
) -> LocalStack:
    """Start Redis (unless one answers) and the emulator (unless Alibaba credentials are set)."""
    settings = get_settings()
    local = LocalStack(env=dict(NO_CLOUD_PROBES))
    if redis_answers(settings.redis_dsn):
        local.redis_url = settings.redis_dsn
    else:
        local.redis_url = stack.redis()
        local.redis_embedded = True
    local.env["SMSQ_REDIS_URL"] = local.redis_url
    if force_emulator or not settings.has_static_keys:
        key_id, key_secret = f"dev-{secrets.token_hex(4)}", secrets.token_urlsafe(24)
        port = port_or_free(8085)
        endpoint = stack.emulator(port, key_id, key_secret, emulator_args)
        local.emulator_url = f"http://{endpoint}"
        local.env |= {
            "SMSQ_ALIYUN_ENDPOINT": endpoint,
            "SMSQ_ALIYUN_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key_secret,
        }
    return local


def start_worker(stack: Stack, local: LocalStack, *, concurrency: int = 16) -> None:
    """Start one worker on every lane, with this host's /metrics."""
    metrics_port = port_or_free(9808)
    env = local.env | {"SMSQ_METRICS_PORT": str(metrics_port)}
    lanes = ",".join(f"smsq.{lane}" for lane in get_settings().lanes)
    stack.worker(env, queues=lanes.split(","), concurrency=concurrency, name="worker")
    local.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
