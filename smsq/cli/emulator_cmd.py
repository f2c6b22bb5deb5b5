"""``smsq emulator``: the local Dypnsapi emulator (the same command as ``python -m smsq.emulator``)."""

from __future__ import annotations

from smsq.emulator.cli import emulator

__all__ = ["emulator"]
