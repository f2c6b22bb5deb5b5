"""Benchmarks: smsq against baselines measured in the same run, on the same Redis and pool.

``smsq bench [enqueue|throughput|scale|check|limiter|emulator|receipts|pumping|async|all]`` runs them
(``smsq.cli.bench_cmd``). Each benchmark module has ``run(quick: bool, **options) -> dict``
(``scale`` takes ``processes``): it starts its own embedded Redis and its own emulator, measures smsq
and its baselines interleaved where it can, and returns plain JSON-ready figures.
:mod:`smsq.bench.report` turns them into ratios, overheads, target verdicts and the JSON file;
:mod:`smsq.bench.table` prints them as a table and :mod:`smsq.bench.plots` draws the PNG.
"""

from __future__ import annotations

#: Benchmark name -> module under ``smsq.bench``, in the order ``all`` runs them.
BENCHMARKS = {
    "enqueue": "smsq.bench.enqueue",
    "throughput": "smsq.bench.throughput",
    "scale": "smsq.bench.scale",
    "check": "smsq.bench.check",
    "limiter": "smsq.bench.limiter",
    "emulator": "smsq.bench.emulator",
    "receipts": "smsq.bench.receipts",
    "pumping": "smsq.bench.pumping",
    "async": "smsq.bench.asyncapi",
}
