"""``python -m emulator``: run the Dypnsapi emulator."""

from emulator.cli import emulator

emulator()
