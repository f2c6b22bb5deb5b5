"""With Redis down, ``send_code`` refuses at once with a typed error, and nothing is recorded or queued."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis

from producers import ServiceUnavailable, send_code
from smsq.net import free_port
from tests.conftest import clear_process_caches


@pytest.fixture
def unreachable_port() -> Iterator[int]:
    """A port whose server never accepts: its listen backlog is full, so a connect hangs (as for a
    host that is down or blackholed), all on loopback."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    queued = []
    for _ in range(8):  # fill the backlog until a connect no longer completes
        client = socket.socket()
        client.settimeout(0.2)
        try:
            client.connect(("127.0.0.1", port))
        except TimeoutError:
            client.close()
            break
        queued.append(client)
    yield port
    for client in queued:
        client.close()
    server.close()


def _point_at(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    url = f"redis://127.0.0.1:{port}/9"
    monkeypatch.setenv("SMSQ_REDIS_URL", url)
    monkeypatch.setenv("SMSQ_BROKER_URL", url)
    monkeypatch.setenv("SMSQ_REDIS_CONNECT_TIMEOUT_S", "0.3")
    clear_process_caches()


def test_a_redis_that_refuses_connections_gets_a_typed_refusal_and_nothing_is_queued(
    smsq_env: dict[str, str], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _point_at(monkeypatch, free_port())
    with pytest.raises(ServiceUnavailable) as refused:
        send_code("13511112222", lane="default")
    assert isinstance(refused.value.__cause__, redis.ConnectionError)
    assert "13511112222" not in str(refused.value)
    clear_process_caches()
    # the test's own Redis got nothing either: no record, no message
    assert list(redis_client.scan_iter("smsq:send:*")) == []


def test_an_unreachable_redis_is_given_up_on_after_the_connect_timeout_without_retrying(
    smsq_env: dict[str, str], unreachable_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    _point_at(monkeypatch, unreachable_port)
    with pytest.raises(ServiceUnavailable) as refused:
        send_code("13511112222", lane="default")
    # a timeout, not a refusal: redis-py's default retries (ten, with backoff) are off for it
    assert isinstance(refused.value.__cause__, redis.TimeoutError)
    clear_process_caches()
