"""``python -m smsq.emulator``: run the Dypnsapi emulator."""

from smsq.emulator.cli import emulator

emulator()
