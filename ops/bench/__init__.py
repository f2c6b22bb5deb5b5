"""Benchmarks: smsq against baselines measured in the same run, on the same Redis and pool.

``smsq bench [enqueue|throughput|check|limiter|emulator|all]`` runs them (``producers.cli.bench_cmd``).
Each benchmark module has ``run(quick: bool) -> dict``: it starts its own embedded Redis and its own
emulator, measures smsq and its baselines interleaved where it can, and returns plain JSON-ready
figures. :mod:`ops.bench.report` turns them into ratios, target verdicts, a table and the JSON file;
:mod:`ops.bench.plots` draws the PNG.
"""

from __future__ import annotations

#: Benchmark name -> module under ``ops.bench``, in the order ``all`` runs them.
BENCHMARKS = {
    "enqueue": "ops.bench.enqueue",
    "throughput": "ops.bench.throughput",
    "check": "ops.bench.check",
    "limiter": "ops.bench.limiter",
    "emulator": "ops.bench.emulator",
}
