"""Fixtures for the tests of what smsq runs: gateway processes against the test Redis and emulator."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from smsq.devstack.processes import Child, Stack, wait_until
from smsq.net import free_port
from tests.conftest import EmulatorHandle, smsq_environment
from tests.smsq.gateway_client import Gateway, StartGateway, answers


@pytest.fixture
def start_gateway(
    processes: Stack, redis_url: str, emulator_session: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartGateway]:
    """Starts ``smsq gateway`` processes against the test Redis and emulator; stops them after the test."""
    monkeypatch.delenv("SMSQ_GATEWAY_TOKEN", raising=False)  # children inherit this process's environment
    started: list[Child] = []

    def start(*args: str, token: str | None = None, **env: str) -> Gateway:
        port = free_port()
        child_env = smsq_environment(redis_url, emulator_session, **env)
        if token is not None:
            child_env["SMSQ_GATEWAY_TOKEN"] = token
        argv = ["-m", "smsq.cli", "gateway", "--port", str(port), *args]
        child = processes.spawn(f"gateway-{port}", [sys.executable, *argv], child_env)
        started.append(child)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if not child.alive():
                raise RuntimeError(f"the gateway exited; see {child.log_path}")
            return answers(f"{base}/healthz")

        wait_until(ready, timeout_s=30, what="the gateway")
        return Gateway(base, child, token)

    yield start
    for child in started:
        child.stop()


@pytest.fixture
def gateway(smsq_env: dict[str, str], start_gateway: StartGateway) -> Gateway:
    """A gateway without a token, and a clean test database and emulator."""
    return start_gateway()
