"""Fixtures for the emulator tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def client(emulator: Any) -> Any:
    """An official SDK client on the (reset) session emulator."""
    return emulator.sdk_client()
