"""The dev stack's key is generated once and kept private; its description round-trips."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from smsq.devstack.local import dev_key, format_env, parse_env


def test_the_dev_key_is_generated_once_and_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_DEV_HOME", str(tmp_path / "home"))
    first = dev_key()
    assert dev_key() == first  # the same key on every start: a configured web app keeps working
    assert stat.S_IMODE((tmp_path / "home" / "dev-key.env").stat().st_mode) == 0o600
    monkeypatch.setenv("SMSQ_DEV_HOME", str(tmp_path / "other"))
    assert dev_key() != first


def test_env_files_round_trip_values_with_spaces_quotes_and_equals() -> None:
    env = {"A": "x y", "B": 'q"uote', "C": "a=b", "D": "速通"}
    assert parse_env(format_env(env)) == env
