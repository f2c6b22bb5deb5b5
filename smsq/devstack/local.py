"""Bring up the local stack ``smsq dev`` and ``smsq demo`` run on, and describe it to other processes.

Redis: the one at ``SMSQ_REDIS_URL`` when it answers, else an embedded ``redis-server``.
Provider: real Alibaba when credentials are configured, else the emulator with a dev key that is
generated once and kept, so a web app configured yesterday still works today.
Data keys (``SMSQ_HASH_KEYS``, ``SMSQ_ENCRYPTION_KEYS``): the environment's when set, else a pair
generated once and kept beside the dev key (owner-only), so records sealed yesterday still open.

Everything a process needs to join the stack is written to ``dev.env`` in the dev home
(``$SMSQ_DEV_HOME``, else ``$XDG_STATE_HOME/smsq``, else ``~/.local/state/smsq``), readable by
its owner only; ``smsq env`` prints it as exports, and a web app can load it as a dotenv file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from producers.constants import CHECK_QUEUE, NO_CLOUD_PROBES
from producers.keyring import Keyring
from producers.settings import get_settings
from smsq.devstack.processes import Stack, http_ok, redis_answers
from smsq.net import port_or_free

#: The ports the stack prefers, so URLs stay the same from one start to the next (another free
#: port is taken when one is busy; dev.env always has the ones in use).
EMULATOR_PORT = 8085
EMBEDDED_REDIS_PORT = 6390
METRICS_PORT = 9808
FLOWER_PORT = 5555
GATEWAY_PORT = 8000


def dev_home() -> Path:
    """The folder holding the dev stack's key and description, created private (0700)."""
    base = os.environ.get("SMSQ_DEV_HOME")
    if base:
        home = Path(base)
    else:
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        home = Path(state) / "smsq"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    return home


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only, never briefly readable by others."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def parse_env(text: str) -> dict[str, str]:
    """``NAME=value`` lines (as :func:`format_env` writes them) back into a mapping."""
    pairs = (line.partition("=") for line in text.splitlines() if line and not line.startswith("#"))
    return {name: json.loads(value) for name, _, value in pairs}


def format_env(env: Mapping[str, str]) -> str:
    """``NAME="value"`` lines, values JSON-quoted (dotenv loaders and :func:`parse_env` read them)."""
    return "".join(f"{name}={json.dumps(value)}\n" for name, value in sorted(env.items()))


def dev_key() -> tuple[str, str]:
    """The emulator's access key pair for this machine's dev stack, generated on first use."""
    path = dev_home() / "dev-key.env"
    if path.exists():
        stored = parse_env(path.read_text(encoding="utf-8"))
        return stored["ALIBABA_CLOUD_ACCESS_KEY_ID"], stored["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    key = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": f"dev-{secrets.token_hex(4)}",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secrets.token_urlsafe(24),
    }
    _write_private(path, "# the dev stack's emulator key (not an Alibaba key)\n" + format_env(key))
    return key["ALIBABA_CLOUD_ACCESS_KEY_ID"], key["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]


def dev_data_keys() -> dict[str, str]:
    """``SMSQ_HASH_KEYS`` and ``SMSQ_ENCRYPTION_KEYS`` for this machine's dev stack: the
    environment's when set, else generated on first use and kept (``dev-data-keys.env``, 0600)."""
    settings = get_settings()
    if settings.hash_keys and settings.encryption_keys:
        return {
            "SMSQ_HASH_KEYS": ",".join(key.get_secret_value() for key in settings.hash_keys),
            "SMSQ_ENCRYPTION_KEYS": ",".join(key.get_secret_value() for key in settings.encryption_keys),
        }
    path = dev_home() / "dev-data-keys.env"
    if path.exists():
        return parse_env(path.read_text(encoding="utf-8"))
    keys = {"SMSQ_HASH_KEYS": Keyring.new_hash_key(), "SMSQ_ENCRYPTION_KEYS": Keyring.new_encryption_key()}
    _write_private(path, "# the dev stack's data keys (producers.keyring); dev only\n" + format_env(keys))
    return keys


def dev_receipt_secret() -> str:
    """The path secret of the dev gateway's receipt route, generated on first use and kept (owner
    only) beside the dev key: it is the receipt route's only credential, so it is never printed."""
    path = dev_home() / "dev-receipts.env"
    if path.exists():
        return parse_env(path.read_text(encoding="utf-8"))["SMSQ_RECEIPT_PATH_SECRET"]
    secret = secrets.token_urlsafe(32)
    header = "# the dev gateway's receipt path secret (POST /receipts/<secret>)\n"
    _write_private(path, header + format_env({"SMSQ_RECEIPT_PATH_SECRET": secret}))
    return secret


@dataclass
class LocalStack:
    """What is running and how to reach it."""

    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""
    redis_embedded: bool = False
    emulator_url: str | None = None
    flower_url: str | None = None
    metrics_url: str | None = None
    gateway_url: str | None = None

    def save(self, pid: int) -> None:
        """Describe this stack: ``dev.env`` for other processes, ``dev.json`` for ``smsq demo``."""
        home = dev_home()
        _write_private(
            home / "dev.env", "# written by `smsq dev`; gone when it stops\n" + format_env(self.env)
        )
        _write_private(home / "dev.json", json.dumps({"pid": pid, **asdict(self)}))

    @staticmethod
    def forget() -> None:
        """Remove the description (the stack stopped)."""
        home = dev_home()
        for name in ("dev.env", "dev.json"):
            (home / name).unlink(missing_ok=True)

    @staticmethod
    def load_running() -> LocalStack | None:
        """The stack a live ``smsq dev`` described, if its parts still answer."""
        try:
            data = json.loads((dev_home() / "dev.json").read_text(encoding="utf-8"))
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
    local = LocalStack(env=dict(NO_CLOUD_PROBES) | dev_data_keys())
    if redis_answers(settings.redis_dsn):
        local.redis_url = settings.redis_dsn
    else:
        local.redis_url = stack.redis(port_or_free(EMBEDDED_REDIS_PORT))
        local.redis_embedded = True
    local.env["SMSQ_REDIS_URL"] = local.redis_url
    if force_emulator or not settings.has_static_keys:
        key_id, key_secret = dev_key()
        endpoint = stack.emulator(port_or_free(EMULATOR_PORT), key_id, key_secret, emulator_args)
        local.emulator_url = f"http://{endpoint}"
        local.env |= {
            "SMSQ_ALIYUN_ENDPOINT": endpoint,
            "SMSQ_ALIYUN_PROTOCOL": "http",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": key_id,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": key_secret,
        }
    return local


def start_worker(stack: Stack, local: LocalStack, *, concurrency: int = 16) -> None:
    """Start one worker on every lane, with this host's /metrics, and a check worker on the check
    queue (what ``SMSQ_CHECK_MODE=worker``, the default, needs)."""
    metrics_port = port_or_free(METRICS_PORT)
    env = local.env | {"SMSQ_METRICS_PORT": str(metrics_port)}
    lanes = ",".join(f"smsq.{lane}" for lane in get_settings().lanes)
    stack.worker(env, queues=lanes.split(","), concurrency=concurrency, name="worker")
    check_env = local.env | {"SMSQ_METRICS_PORT": "0"}
    stack.worker(check_env, queues=[CHECK_QUEUE], concurrency=8, name="check-worker")
    local.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"


def start_gateway(stack: Stack, local: LocalStack) -> None:
    """Start the gateway on loopback with a receipt route, and point the emulator's delivery
    receipts at it, so a send's status shows ``delivery`` as a real deployment's would."""
    secret = dev_receipt_secret()
    local.gateway_url = stack.gateway(local.env, port_or_free(GATEWAY_PORT), receipt_secret=secret)
    if local.emulator_url:
        from smsq.emulator.remote import EmulatorRemote  # noqa: PLC0415 - only the dev stack drives it

        remote = EmulatorRemote(local.emulator_url.removeprefix("http://"))
        remote.set_receipts(url=f"{local.gateway_url}/receipts/{secret}")
