"""What Redis sees of a phone number: through a real send (real worker, real provider emulator) and
real checks, neither the commands Redis receives (``MONITOR``, from a second connection) nor any key
or value it holds afterwards carries the full number, its 7-digit prefix or the code (finding 7,
acceptance 3)."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from producers import RateLimited, SendState, check_code, get_status, send_code
from producers.keyring import get_keyring
from producers.pumping import ANY_PURPOSE, trips, unblock
from tests.conftest import EmulatorHandle, use_settings
from tests.e2e.helpers import wait_final


def fresh_number() -> str:
    return f"13{uuid.uuid4().int % 10**9:09d}"


class Monitor:
    """Every command Redis runs while the block runs, read from its own connection."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._db = self._client.connection_pool.connection_kwargs.get("db", 0)
        self._stop = f"monitor-stop-{uuid.uuid4().hex}"
        self._ready = threading.Event()
        self.commands: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self._client.monitor() as monitor:
            self._ready.set()
            for entry in monitor.listen():
                if self._stop in entry["command"]:
                    return
                if int(entry.get("db", -1)) == int(self._db):
                    self.commands.append(entry["command"])

    def __enter__(self) -> Monitor:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.echo(self._stop)  # a command on the monitored database ends the reading
        self._thread.join(timeout=30)
        self._client.close()


def readable(text: str) -> Iterator[str]:
    """``text``, and what a Celery/kombu message hides in base64 inside it."""
    yield text
    for candidate in _json_strings(text):
        try:
            yield base64.b64decode(candidate, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue


def _json_strings(text: str) -> Iterator[str]:
    start = text.find("{")
    if start < 0:
        return
    try:
        document: Any = json.loads(text[start : text.rfind("}") + 1])
    except ValueError:
        return
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            yield item


def everything_stored(client: redis.Redis) -> Iterator[str]:
    """Every key name of the database, and every value in it, as text."""
    for raw_key in client.scan_iter(count=1000):
        yield raw_key.decode("latin-1")
        kind = client.type(raw_key).decode()
        if kind == "string":
            values = [client.get(raw_key)]
        elif kind == "hash":
            values = [part for pair in client.hgetall(raw_key).items() for part in pair]
        elif kind == "list":
            values = client.lrange(raw_key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(raw_key))
        elif kind == "zset":
            values = [member for member, _ in client.zrange(raw_key, 0, -1, withscores=True)]
        else:
            values = [repr(client.dump(raw_key))]
        for value in values:
            yield value.decode("latin-1") if isinstance(value, bytes) else str(value)


@pytest.mark.usefixtures("workers")
def test_redis_never_sees_the_number_its_prefix_or_the_code_during_a_send_and_checks(
    smsq_env: dict[str, str], emulator: EmulatorHandle, redis_client: redis.Redis
) -> None:
    phone = fresh_number()
    url = smsq_env["SMSQ_REDIS_URL"]
    with Monitor(url) as monitor:
        ticket = send_code(phone, purpose="login", client_ip="203.0.113.7", idempotency_key=f"k-{phone}")
        assert wait_final(ticket.id).state is SendState.SENT
        code = emulator.messages(phone)[0]["code"]
        wrong = "0" * len(code) if code != "0" * len(code) else "1" * len(code)
        assert check_code(phone, wrong, client_ip="203.0.113.7").attempts_left == 4
        assert check_code(phone, code, client_ip="2001:db8::7").passed
        assert get_status(ticket.id).state is SendState.VERIFIED
    commands = monitor.commands
    # the capture is real: it saw the send, the worker's claim and finish, and the checks
    assert sum("EVALSHA" in command or "EVAL" in command for command in commands) >= 5
    assert any(ticket.id in command for command in commands)
    assert any("gAAAAA" in command for command in commands)  # the number did pass: sealed (Fernet)
    stored = list(everything_stored(redis.Redis.from_url(url)))
    assert any(ticket.id in text for text in stored)

    secrets = {"the number": phone, "its 7-digit prefix": phone[:7], "the code": code}
    for where, texts in (("a command Redis received", commands), ("a key or value Redis holds", stored)):
        for text in texts:
            for shown in readable(text):
                for what, secret in secrets.items():
                    assert secret not in shown, f"{what} in {where}: {shown[:200]!r}"


def test_a_pumping_trip_its_listing_and_its_unblock_never_show_the_prefix_to_redis(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_settings(
        monkeypatch, {"SMSQ_PHONE_LIMITS": "", "SMSQ_PREFIX_LIMITS": "", "SMSQ_PUMPING_MIN_SENDS": "5"}
    )
    prefix = fresh_number()[:7]
    url = smsq_env["SMSQ_REDIS_URL"]
    client, keyring = redis.Redis.from_url(url, decode_responses=True), get_keyring()
    with Monitor(url) as monitor:
        for index in range(5):
            send_code(f"{prefix}{index:04d}", lane="default")  # never verified
        with pytest.raises(RateLimited) as refused:
            send_code(f"{prefix}0099")
        assert refused.value.rule == f"pumping:{prefix}"
        assert [trip.prefix for trip in trips(client, keyring)] == [prefix]
        assert unblock(client, keyring, prefix) == [ANY_PURPOSE]  # SMSQ_PURPOSES unset: all purposes
    assert sum("EVALSHA" in command for command in monitor.commands) >= 6
    stored = list(everything_stored(redis.Redis.from_url(url)))
    assert any(key.startswith("smsq:pump:") for key in stored)
    for where, texts in (
        ("a command Redis received", monitor.commands),
        ("a key or value Redis holds", stored),
    ):
        for text in texts:
            for shown in readable(text):
                assert prefix not in shown, f"the prefix in {where}: {shown[:200]!r}"
