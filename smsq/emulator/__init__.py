"""A local stand-in for Alibaba Cloud Dypnsapi (SMS Authentication Service), in the shape of moto.

Routes and the fault/control endpoints live in :mod:`emulator.server`, :mod:`emulator.gateway` and
:mod:`emulator.controls`; the two actions in :mod:`emulator.handlers`; provider state and rules in
:mod:`emulator.state`; one exception per cloud error code in :mod:`emulator.errors`; delivery receipts
in :mod:`emulator.receipts` (state) and :mod:`emulator.pusher` (HTTP); who may call the controls in
:mod:`emulator.guard`.
"""

from smsq.emulator.config import EmulatorConfig
from smsq.emulator.server import create_app, serve

__all__ = ["EmulatorConfig", "create_app", "serve"]
