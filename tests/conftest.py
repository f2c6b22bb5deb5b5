"""Fixtures that give every test real parts: Redis, the emulator over HTTP, Celery workers.

Redis: the server at ``SMSQ_REDIS_URL`` (or 127.0.0.1:6379) when it answers, else an embedded
``redis-server`` started here. Tests always use database ``SMSQ_TEST_REDIS_DB`` (default 9, never 0)
and flush only that database, which belongs to the test run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from producers.constants import NO_CLOUD_PROBES
from producers.process import reset_caches
from smsq.devstack.processes import Stack, redis_answers
from smsq.emulator.remote import EmulatorRemote
from smsq.net import free_port

# Set before any SDK import: the credentials chain must never probe 100.100.100.200 or a CLI profile.
os.environ.update(NO_CLOUD_PROBES)
# The dev stack's key and description live in a folder of this test run, not the user's home.
os.environ["SMSQ_DEV_HOME"] = tempfile.mkdtemp(prefix="smsq-dev-home-")
for _leak in (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
):
    os.environ.pop(_leak, None)

TEST_KEY_ID = "smsq-test-key"
TEST_KEY_SECRET = "smsq-test-secret-0123456789"
#: Fixed data keys (producers.keyring) of every test process: test-only, never used elsewhere.
TEST_HASH_KEY = "smsq-test-hash-key-0123456789abcdef0123456789abcdef"
TEST_ENCRYPTION_KEY = "c21zcS10ZXN0LWVuY3J5cHRpb24ta2V5LTAxMjM0NTY="  # base64 of 32 test bytes


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def processes() -> Iterator[Stack]:
    """Child processes of the whole test session (embedded Redis, shared emulator)."""
    stack = Stack()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def redis_url(processes: Stack, worker_id: str) -> str:
    """URL of the test Redis database (never database 0), emptied once when the session starts.

    With pytest-xdist (``make test`` runs two processes), each process has a database of its own:
    ``SMSQ_TEST_REDIS_DB`` plus its index (gw0, gw1…)."""
    offset = int(worker_id.removeprefix("gw")) if worker_id.startswith("gw") else 0
    db = int(os.environ.get("SMSQ_TEST_REDIS_DB", "9")) + offset
    assert db != 0, "tests never use Redis database 0"
    base = os.environ.get("SMSQ_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not redis_answers(base):
        base = processes.redis()
    url = _with_db(base, db)
    client = redis.Redis.from_url(url)
    client.flushdb()  # the test database belongs to the test run
    client.close()
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client on the test database with smsq's own keys (``smsq:*``) deleted before the test.

    Celery's broker keys stay: long-lived worker processes rely on them.
    """
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    stale = list(client.scan_iter("smsq:*", count=1000))
    if stale:
        client.delete(*stale)
    yield client
    client.close()


class EmulatorHandle(EmulatorRemote):
    """A running emulator, its control endpoints and its test key."""

    def __init__(self, endpoint: str, key_id: str, key_secret: str) -> None:
        super().__init__(endpoint, timeout_s=10)
        self.key_id = key_id
        self.key_secret = key_secret

    def sdk_config(self, **overrides: Any) -> Any:
        """An SDK ``Config`` for this emulator with explicit keys."""
        from alibabacloud_tea_openapi import models as open_api_models

        options = dict(
            access_key_id=self.key_id,
            access_key_secret=self.key_secret,
            endpoint=self.endpoint,
            protocol="http",
            connect_timeout=2000,
            read_timeout=5000,
        )
        options.update(overrides)
        return open_api_models.Config(**options)

    def sdk_client(self, **overrides: Any) -> Any:
        """An official Dypnsapi SDK client pointed at this emulator."""
        from alibabacloud_dypnsapi20170525.client import Client

        return Client(self.sdk_config(**overrides))


@pytest.fixture(scope="session")
def emulator_session(processes: Stack) -> EmulatorHandle:
    """One emulator process for the session (reset before each test that uses ``emulator``)."""
    port = free_port()
    endpoint = processes.emulator(
        port, TEST_KEY_ID, TEST_KEY_SECRET, ["--seed", "1"], name="emulator-session"
    )
    return EmulatorHandle(endpoint, TEST_KEY_ID, TEST_KEY_SECRET)


@pytest.fixture
def emulator(emulator_session: EmulatorHandle) -> EmulatorHandle:
    """The session's emulator with empty state and no faults."""
    emulator_session.reset()
    return emulator_session


def clear_process_caches() -> None:
    """Forget every per-process object built from settings, so a test's environment takes effect."""
    reset_caches()


def use_settings(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> dict[str, str]:
    """Set ``values`` in this process's environment for the test and let them take effect."""
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    clear_process_caches()
    return values


def fixed_keyring() -> Any:
    """A :class:`producers.keyring.Keyring` of the fixed test keys (what ``smsq_environment`` sets)."""
    from producers.keyring import Keyring

    return Keyring([TEST_HASH_KEY.encode()], [TEST_ENCRYPTION_KEY.encode()])


def limit_log_key(scope: str, subject: str) -> str:
    """The Redis key of one limit log as the test keys name it: the subject (a number, prefix or IP
    bucket) appears only as a keyed digest."""
    key: str = fixed_keyring().limit_keys(scope, subject)[0]
    return key


def record_sent(client: redis.Redis, phone: str) -> str:
    """Record a code as sent to ``phone`` (what a worker records once the provider accepted a send),
    for tests whose provider answers sends with an error; returns the send's ticket."""
    import uuid

    from producers.keyring import get_keyring
    from producers.records import SendState
    from producers.store import RecordStore

    keyring, store, ticket = get_keyring(), RecordStore(client), uuid.uuid4().hex
    store.admit(
        ticket=ticket,
        sealed_phone=keyring.seal(phone),
        masked="x",
        purpose="login",
        lane="parked",
        rules=(),
        useful_life_s=60,
        record_ttl_s=600,
    )
    store.finish(ticket, SendState.SENT, live_code_keys=keyring.live_code_keys(phone), code_ttl_s=300)
    return ticket


def smsq_environment(redis_url: str, emulator: EmulatorHandle, **overrides: str) -> dict[str, str]:
    """The variables a producer or worker needs to run against the test Redis and the emulator."""
    env = {
        "SMSQ_REDIS_URL": redis_url,
        "SMSQ_ALIYUN_ENDPOINT": emulator.endpoint,
        "SMSQ_ALIYUN_PROTOCOL": "http",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": emulator.key_id,
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": emulator.key_secret,
        "SMSQ_HASH_KEYS": TEST_HASH_KEY,
        "SMSQ_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "SMSQ_SEND_READ_TIMEOUT_S": "1",
        "SMSQ_CHECK_READ_TIMEOUT_S": "1",
        "SMSQ_SEND_DEADLINE_S": "10",
        "SMSQ_CODE_LENGTH": "8",
        "SMSQ_METRICS_PORT": "0",
        "SMSQ_RETRY_INITIAL_S": "0.05",
        "SMSQ_RETRY_MAX_S": "0.5",
        # The rules of a check are tested in-process; tests/e2e/test_check_rpc.py runs worker mode
        # (the default) against check workers of its own.
        "SMSQ_CHECK_MODE": "direct",
    }
    env.update(overrides)
    return env


@pytest.fixture
def smsq_env(
    monkeypatch: pytest.MonkeyPatch, redis_client: redis.Redis, redis_url: str, emulator: EmulatorHandle
) -> Iterator[dict[str, str]]:
    """This process configured as a producer against the test Redis and the emulator."""
    env = smsq_environment(redis_url, emulator)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clear_process_caches()
    yield env
    clear_process_caches()


@pytest.fixture(scope="session")
def worker_env(redis_url: str, emulator_session: EmulatorHandle) -> dict[str, str]:
    """Environment of the session's worker processes."""
    return smsq_environment(redis_url, emulator_session)


@pytest.fixture(scope="session")
def workers(processes: Stack, worker_env: dict[str, str]) -> Stack:
    """Two real Celery worker processes (threads pool) on the default lane, for the whole session."""
    started = [
        processes.worker(worker_env, concurrency=8, name=f"worker{i}", extra_args=["--without-mingle"])
        for i in range(2)
    ]
    for child in started:
        child.wait_for_log("ready.", timeout_s=60)
    return processes
