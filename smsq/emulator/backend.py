"""The running emulator's state holder (moto calls it a backend): config, store, faults, counters."""

from __future__ import annotations

import random

from aiohttp import web

from smsq.emulator.clock import Clock, SystemClock
from smsq.emulator.config import EmulatorConfig
from smsq.emulator.faults import FaultInjector
from smsq.emulator.flowcontrol import FlowControl
from smsq.emulator.pusher import ReceiptPusher
from smsq.emulator.receipts import ReceiptBook
from smsq.emulator.state import NonceMemory, Stats, Store


class Emulator:
    """Everything the running emulator knows: configuration, state, faults and counters."""

    def __init__(self, config: EmulatorConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.store = self._new_store()
        self.nonces = NonceMemory(self.clock, config.limits.max_nonces)
        self.stats = Stats(config.limits.max_send_timestamps)
        self.faults = FaultInjector(config.faults, config.seed)
        self.flow = FlowControl()
        self.receipts = ReceiptBook(config.receipts, config.seed, config.limits.max_receipts)
        self.pusher: ReceiptPusher | None = None  # started with the application, on its event loop

    def reset(self) -> None:
        """Empty every store and counter; faults and receipt settings back to the startup configuration."""
        self.store = self._new_store()
        self.nonces.reset()
        self.stats.reset()
        self.faults.reset()
        self.flow.reset()
        if self.pusher is not None:
            self.pusher.cancel_in_flight()
        self.receipts.reset()

    def _new_store(self) -> Store:
        seed = self.config.seed  # codes have their own seeded stream, apart from the fault draws
        rng = random.Random(None if seed is None else f"codes:{seed}")  # noqa: S311 - reproducible by design
        return Store(self.clock, rng, self.config.limits)


EMULATOR: web.AppKey[Emulator] = web.AppKey("emulator", Emulator)
