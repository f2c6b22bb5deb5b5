"""``smsq emulator``: the local Dypnsapi emulator (the same command as ``python -m emulator``)."""

from __future__ import annotations

from emulator.cli import emulator

__all__ = ["emulator"]
