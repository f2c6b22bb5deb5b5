"""A client for a running emulator's own endpoints under ``/_emulator/`` (outbox, faults, receipts, stats).

For the tests, the benchmarks and ``smsq demo``: everything that drives an emulator from outside. Give
``token`` when the emulator was started with a control token (``--control-token`` or
``SMSQ_EMULATOR_CONTROL_TOKEN``); it travels as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any


class EmulatorRemote:
    """Talks to the emulator at ``endpoint`` (``host:port``) over HTTP."""

    def __init__(self, endpoint: str, timeout_s: float = 30.0, token: str | None = None) -> None:
        self.endpoint = endpoint
        self.base = f"http://{endpoint}/_emulator"
        self.timeout_s = timeout_s
        self._token = token

    def __repr__(self) -> str:  # never print the token
        return f"{type(self).__name__}({self.endpoint!r}, token={'set' if self._token else None})"

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(  # noqa: S310 - a loopback URL built from our own endpoint
            f"{self.base}/{path}", data=data, method=method, headers=headers
        )
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def messages(self, phone: str | None = None) -> list[dict[str, Any]]:
        """The outbox, newest first (only ``phone``'s messages when given)."""
        suffix = f"?{urllib.parse.urlencode({'phone': phone})}" if phone else ""
        result: list[dict[str, Any]] = self._call("GET", f"messages{suffix}")["messages"]
        return result

    def stats(self) -> dict[str, Any]:
        """Request counts by action and outcome, and the times of accepted sends."""
        result: dict[str, Any] = self._call("GET", "stats")
        return result

    def faults(self) -> dict[str, Any]:
        """The fault configuration in force."""
        result: dict[str, Any] = self._call("GET", "faults")
        return result

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Change some faults at runtime; returns the whole new configuration."""
        result: dict[str, Any] = self._call("PUT", "faults", faults)
        return result

    def receipts(self) -> dict[str, Any]:
        """The delivery-receipt settings in force (callback URL, delay, batch size, faults...)."""
        result: dict[str, Any] = self._call("GET", "receipts")
        return result

    def set_receipts(self, **settings: Any) -> dict[str, Any]:
        """Change some receipt settings at runtime (e.g. ``url=``); returns the whole new configuration."""
        result: dict[str, Any] = self._call("PUT", "receipts", settings)
        return result

    def reset(self) -> None:
        """Empty the outbox, codes, receipts and stats; restore the start-up faults and receipt settings."""
        self._call("POST", "reset")
