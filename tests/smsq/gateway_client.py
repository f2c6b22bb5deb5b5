"""A small HTTP client for a running ``smsq gateway`` process, shared by the gateway's tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smsq.devstack.processes import Child


def fresh_number() -> str:
    return f"136{uuid.uuid4().int % 10**8:08d}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Gateway:
    """A running gateway process and a small HTTP client for it."""

    base: str
    child: Child
    token: str | None = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Reply:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if token or self.token:
            all_headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, dict(exc.headers), exc.read().decode())

    def send(self, phone: str, **fields: Any) -> Reply:
        return self.call("POST", "/v1/codes", {"phone": phone, **fields})

    def log(self) -> str:
        assert self.child.log_path is not None
        return self.child.log_path.read_text(errors="replace")


StartGateway = Callable[..., Gateway]


def answers(url: str) -> bool:
    """True once ``url`` answers HTTP at all (a 503 from /healthz counts: the gateway is up)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_final_over_http(gateway: Gateway, ticket: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = gateway.call("GET", f"/v1/codes/{ticket}").json
    while status["state"] in {"queued", "sending"} and time.monotonic() < deadline:
        time.sleep(0.05)
        status = gateway.call("GET", f"/v1/codes/{ticket}").json
    return status
