"""How late an event loop runs a task that sleeps 1 ms in a loop: what a blocked loop costs everyone
else on it (the async API's promise is that it never blocks the loop for long).

On a shared machine a late wake-up has two causes: this process was busy (its loop ran other
callbacks, or its threads held the GIL), or the OS ran other processes. ``own_ms`` keeps the first:
each overshoot capped at the CPU this process used meanwhile, so another process's load does not
count as the loop's lag; ``samples_ms`` is the plain wall-clock overshoot."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from smsq.bench.common import percentiles

#: The probe's sleep: short enough to see a stall of a few milliseconds.
PROBE_SLEEP_S = 0.001


class LoopLag:
    """``async with LoopLag() as lag:`` records, while the block runs, each wake-up's overshoot
    past the probe's 1 ms sleep, in ms (``samples_ms``, ``p99_ms``), and the part of it this
    process's own work explains (``own_ms``, ``own_p99_ms``)."""

    def __init__(self) -> None:
        self.samples_ms: list[float] = []
        self.own_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _probe(self) -> None:
        while True:
            started, cpu_started = time.perf_counter(), time.process_time()
            await asyncio.sleep(PROBE_SLEEP_S)
            late_ms = (time.perf_counter() - started - PROBE_SLEEP_S) * 1000
            self.samples_ms.append(late_ms)
            self.own_ms.append(min(late_ms, (time.process_time() - cpu_started) * 1000))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._probe())
        await asyncio.sleep(0)  # the probe is asleep before the block starts
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    @property
    def p99_ms(self) -> float:
        """The 99th percentile of the overshoots (nearest rank)."""
        return percentiles(self.samples_ms)["p99_ms"]

    @property
    def own_p99_ms(self) -> float:
        """The 99th percentile of the overshoots this process's own work explains."""
        return percentiles(self.own_ms)["p99_ms"]
