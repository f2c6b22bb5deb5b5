"""The provider's asyncio check: the SDK's aiohttp call over HTTP, the pooled sync call on the provider
threads over HTTPS, with the sync call's error mapping either way (real SDK, the emulator over HTTP)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from producers import errors
from producers.process import reset_caches
from producers.provider import get_provider
from tests.conftest import EmulatorHandle

pytestmark = pytest.mark.usefixtures("smsq_env")


def provider_threads() -> int:
    return sum(thread.name.startswith("smsq-provider") for thread in threading.enumerate())


def test_over_http_acheck_answers_as_check_does_without_a_thread(emulator: EmulatorHandle) -> None:
    before = provider_threads()
    sync = get_provider().check("13511112222", "123456")
    answer = asyncio.run(get_provider().acheck("13511112222", "123456"))
    assert (answer.passed, sync.passed) == (False, False)
    assert emulator.stats()["check_requests"] == 2
    assert provider_threads() == before


def test_an_error_answer_maps_to_the_same_error_in_both_calls(emulator: EmulatorHandle) -> None:
    emulator.set_faults(error_503_rate=1.0)
    with pytest.raises(errors.ProviderTransient) as sync:
        get_provider().check("13511112222", "123456")
    with pytest.raises(errors.ProviderTransient) as unblocked:
        asyncio.run(get_provider().acheck("13511112222", "123456"))
    assert (unblocked.value.status, unblocked.value.code) == (sync.value.status, sync.value.code)


def test_over_https_acheck_makes_the_sync_call_on_the_provider_threads(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the emulator speaks plain HTTP: a TLS handshake with it fails, the same way in both calls
    monkeypatch.setenv("SMSQ_ALIYUN_PROTOCOL", "https")
    reset_caches()
    with pytest.raises(errors.ProviderError) as sync:
        get_provider().check("13511112222", "123456")
    with pytest.raises(errors.ProviderError) as unblocked:
        asyncio.run(get_provider().acheck("13511112222", "123456"))
    assert type(unblocked.value) is type(sync.value)
    assert provider_threads() >= 1
    assert emulator.stats()["check_requests"] == 0
