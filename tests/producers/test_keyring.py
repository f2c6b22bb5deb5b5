"""The data keys: keyed digests name Redis keys, Fernet seals the number, both rotate, and smsq
refuses to touch a number without them (finding 7)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from producers import ConfigurationError, check_code, send_code
from producers.constants import workers_key
from producers.errors import DecryptionFailed
from producers.keyring import Keyring, get_keyring
from producers.settings import configure
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_HASH_KEY, clear_process_caches, record_sent

PHONE = "13511112222"


def keyring(hash_keys: list[str], encryption_keys: list[str]) -> Keyring:
    return Keyring([key.encode() for key in hash_keys], [key.encode() for key in encryption_keys])


def test_a_digest_depends_on_the_key_the_use_and_the_value_and_never_shows_the_value() -> None:
    one = keyring([TEST_HASH_KEY], [TEST_ENCRYPTION_KEY])
    other = keyring([Keyring.new_hash_key()], [TEST_ENCRYPTION_KEY])
    [live] = one.live_code_keys(PHONE)
    assert live.startswith("smsq:last:") and PHONE not in live and PHONE[:7] not in live
    assert one.live_code_keys(PHONE) == (live,)  # stable: every process finds the same key
    assert other.live_code_keys(PHONE) != (live,)
    assert one.limit_keys("phone", PHONE) != one.limit_keys("prefix", PHONE)
    assert one.limit_keys("prefix", PHONE[:7]) != one.limit_keys("prefix", "1351112")
    # the parts of an idempotency key cannot be shifted into each other
    assert one.idempotency_keys(PHONE, "a", "bc") != one.idempotency_keys(PHONE, "ab", "c")


def test_during_a_rotation_names_are_written_under_the_new_key_and_found_under_both() -> None:
    old, new = Keyring.new_hash_key(), Keyring.new_hash_key()
    before = keyring([old], [TEST_ENCRYPTION_KEY])
    during = keyring([new, old], [TEST_ENCRYPTION_KEY])
    assert during.live_code_keys(PHONE)[1:] == before.live_code_keys(PHONE)
    assert during.live_code_keys(PHONE)[0] not in before.live_code_keys(PHONE)


def test_a_sealed_number_opens_with_any_listed_key_and_with_no_other() -> None:
    old, new = Keyring.new_encryption_key(), Keyring.new_encryption_key()
    token = keyring([TEST_HASH_KEY], [old]).seal(PHONE)
    assert PHONE not in token
    assert keyring([TEST_HASH_KEY], [new, old]).unseal(token) == PHONE
    with pytest.raises(DecryptionFailed) as info:
        keyring([TEST_HASH_KEY], [new]).unseal(token)
    assert info.value.reason == "undecryptable"


def test_a_sealed_number_that_was_altered_does_not_open() -> None:
    ring = keyring([TEST_HASH_KEY], [TEST_ENCRYPTION_KEY])
    token = ring.seal(PHONE)
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    for bad in (flipped, "", "not-a-token", token[:20]):
        with pytest.raises(DecryptionFailed):
            ring.unseal(bad)


@pytest.mark.parametrize("missing", ["SMSQ_HASH_KEYS", "SMSQ_ENCRYPTION_KEYS"])
def test_sends_and_checks_refuse_in_one_line_without_the_keys_and_write_nothing(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.delenv(missing)
    clear_process_caches()
    for call in (lambda: send_code(PHONE), lambda: check_code(PHONE, "123456")):
        with pytest.raises(ConfigurationError) as info:
            call()
        message = str(info.value)
        assert message.startswith(f"{missing} is not set") and "\n" not in message
    # the worker registry belongs to the long-lived workers of other tests (their heartbeats)
    assert [key for key in redis_client.scan_iter("smsq:*") if key != workers_key()] == []


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SMSQ_HASH_KEYS", "too-short-a-key", "entry 1 is not a key of at least 32 characters"),
        ("SMSQ_HASH_KEYS", f"{TEST_HASH_KEY},", "entry 2 is empty"),
        ("SMSQ_ENCRYPTION_KEYS", "bm90LWEta2V5", "entry 1 is not a Fernet key"),
        ("SMSQ_ENCRYPTION_KEYS", f"{TEST_ENCRYPTION_KEY},{TEST_HASH_KEY}", "entry 2 is not a Fernet key"),
    ],
)
def test_a_malformed_key_is_refused_at_load_without_showing_it(
    smsq_env: dict[str, str], variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        configure({variable: value})
    assert problem in str(info.value) and variable in str(info.value)
    for part in value.split(","):
        if part:
            assert part not in str(info.value)


def test_the_production_endpoint_needs_the_keys_too_and_says_so_before_anything_starts() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMSQ_")}
    env["SMSQ_REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens: a command that got further would hang
    env["SMSQ_ALIYUN_ENDPOINT"] = "dypnsapi.aliyuncs.com"
    for command in (["worker"], ["send", PHONE], ["check", PHONE, "123456"], ["admin", "unlock", PHONE]):
        result = subprocess.run(
            [sys.executable, "-m", "smsq.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (command, result.stdout + result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("smsq: configuration error: SMSQ_HASH_KEYS is not set"), line


def test_a_check_finds_a_code_recorded_under_the_previous_hash_key(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rotation: a live code named under the old key is still found, so a user in the middle of a
    login keeps their code (here the provider has none, so the answer is a plain wrong code)."""
    record_sent(redis_client, PHONE)
    monkeypatch.setenv("SMSQ_HASH_KEYS", f"{Keyring.new_hash_key()},{TEST_HASH_KEY}")
    clear_process_caches()
    result = check_code(PHONE, "123456")
    assert (result.passed, result.attempts_left) == (False, 4)  # found, counted: not "no live code"
    assert get_keyring().live_code_keys(PHONE)[1] in set(redis_client.scan_iter("smsq:last:*"))
