"""``smsq bench all --quick`` runs every benchmark end to end, so the benchmarks never rot.

No timing is asserted: figures on a shared 2-core machine are for the report, not for the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from producers.constants import NO_CLOUD_PROBES
from smsq.bench import BENCHMARKS
from smsq.bench.limiter import max_in_window
from smsq.bench.report import ratios, targets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.bench
@pytest.mark.timeout(300)
def test_bench_all_quick_writes_every_benchmarks_figures_as_json_and_a_png(tmp_path: Path) -> None:
    json_path, plot_path = tmp_path / "bench.json", tmp_path / "bench.png"
    env = {**os.environ, **NO_CLOUD_PROBES}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "smsq.cli",
            "bench",
            "all",
            "--quick",
            "--json",
            str(json_path),
            "--plot",
            str(plot_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "targets:" in completed.stdout

    report = json.loads(json_path.read_text())
    assert set(report["benchmarks"]) == set(BENCHMARKS)
    for name, result in report["benchmarks"].items():
        assert "error" not in result, (name, result.get("traceback"))
    assert report["machine"]["cpu_count"] >= 1
    assert report["versions"]["celery"] and report["versions"]["alibabacloud-dypnsapi20170525"]

    bench = report["benchmarks"]
    for variant in ("smsq", "celery", "lpush", "seed"):
        assert bench["enqueue"]["latency"][variant]["n"] > 0
    for variant in ("smsq", "sdk", "seed"):
        assert bench["check"]["latency"][variant]["n"] > 0
    assert bench["throughput"]["smsq"]["states"] == {"sent": bench["throughput"]["params"]["sends"]}
    for variant in ("smsq", "celery", "sdk"):
        assert bench["throughput"][variant]["per_s"] > 0
    assert len(bench["throughput"]["smsq"]["peak_rss_mb"]) == bench["throughput"]["params"]["processes"]
    assert bench["limiter"]["rate"]["sends_in_window"] > 0
    assert len(bench["limiter"]["lanes"]["lane_b_to_sent_s"]) > 0
    assert bench["emulator"]["requests_per_s"] > 0
    receipts = bench["receipts"]
    assert (
        receipts["load"]["statuses"] == {"200": receipts["load"]["batches"]}
        and receipts["load"]["all_stored"]
    )
    assert receipts["outage"]["probe_statuses"] == {"503": 10}, "a frozen Redis answers 503, not a hang"
    assert receipts["outage"]["delivered"] == receipts["outage"]["sends"], "the emulator's retry lands"

    # every ratio and every target verdict is present (their values are the report's business)
    assert all(value is not None for value in report["ratios"].values()), report["ratios"]
    assert all(t["met"] is not None for t in report["targets"]), report["targets"]
    assert plot_path.read_bytes().startswith(PNG_MAGIC)


def test_the_sliding_window_counts_the_busiest_second_exactly() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [0, 1) holds 0, .5, .99
    assert max_in_window([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]) == 4  # a send exactly 1 s later is out


def test_a_report_without_results_has_no_ratios_and_nothing_measured() -> None:
    assert all(value is None for value in ratios({}).values())
    assert all(t.met is None and t.gap == "not measured" for t in targets({}))
