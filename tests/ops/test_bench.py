"""``smsq bench all --quick`` runs every benchmark end to end, so the benchmarks never rot.

No timing is asserted: figures on a shared 2-core machine are for the report, not for the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner

from producers.constants import NO_CLOUD_PROBES
from smsq.bench import BENCHMARKS
from smsq.bench.check import summary as check_summary
from smsq.bench.limiter import max_in_window
from smsq.bench.redis_calls import RedisCalls
from smsq.bench.report import overheads_ms, ratios, targets
from smsq.bench.scale import add_efficiency, default_processes
from smsq.cli.bench_cmd import bench
from smsq.devstack.processes import Stack

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.bench
@pytest.mark.timeout(520)  # bench all --quick incl. scale, receipts, pumping; the run below gets 500 s
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
        timeout=500,
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
    assert set(bench["enqueue"]["steps"]) == {"parse", "rules", "message", "admit", "other", "total"}
    assert all(
        step["n"] == bench["enqueue"]["params"]["rounds"] for step in bench["enqueue"]["steps"].values()
    )
    # every timed step was entered (a step the timer no longer wraps reads exactly 0)
    steps = bench["enqueue"]["steps"]
    assert all(steps[name]["p50_ms"] > 0 for name in ("parse", "rules", "message", "admit"))
    assert set(bench["check"]["runs"]) == {"0", "20"}
    for run in bench["check"]["runs"].values():
        for variant in ("worker", "direct", "bare", "sdk", "seed", "redis"):
            assert run["latency"][variant]["n"] > 0
        assert isinstance(run["overhead_p50_ms"], float)
        assert isinstance(run["overhead_beyond_round_trip_p50_ms"], float)
        floors = run["worker_breakdown_p50_ms"]
        assert floors["floor_worker_over_bare"] > 1 and floors["floor_worker_over_direct"] > 1
    backlog = bench["check"]["backlog"]
    assert backlog["queued_sends_at_start"] >= 1000, "the checks ran beside a real backlog"
    for phase in ("idle_before", "backlog", "idle_after"):
        assert backlog["latency"][phase]["worker"]["n"] == bench["check"]["params"]["backlog_rounds"]
    assert isinstance(backlog["p99_growth_ms"]["worker"], float)

    throughput = bench["throughput"]
    assert throughput["smsq"]["states"] == {"sent": throughput["smsq"]["sends"]}
    for variant in ("smsq", "naive", "noop", "sdk"):
        assert throughput[variant]["per_s"] > 0
    for variant in ("smsq", "naive", "noop"):
        assert len(throughput[variant]["peak_rss_mb"]) == throughput["params"]["processes"]
        assert throughput[variant]["cpu_ms_per_send"]["workers"] > 0
        # every task is fetched from the queue once: at least one round trip each
        assert throughput[variant]["redis_per_send"]["round_trips"] >= 1
    # smsq's workers run their scripts (the claim, which takes the rate token too, and the finish);
    # the naive task runs none of its own
    assert throughput["smsq"]["redis_per_send"]["commands"]["evalsha"] >= 2

    scale = bench["scale"]
    counts = scale["params"]["processes"]
    assert counts[0] == 1 and len(counts) >= 2
    for variant in ("smsq", "naive", "noop"):
        points = scale["curve"][variant]
        assert [point["processes"] for point in points] == counts
        assert points[0]["efficiency"] == 1.0
        assert all(point["per_s"] > 0 and point["efficiency"] > 0 for point in points)
    assert all(point["states"] == {"sent": point["sends"]} for point in scale["curve"]["smsq"])

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

    assert_pumping_figures(bench["pumping"])
    bursts = bench["async"]["bursts"]
    assert set(bursts) == {"check_async", "check_threads", "send_async", "send_threads"}
    for name, burst in bursts.items():
        assert burst["total"]["n"] == bench["async"]["params"]["rounds"] and burst["loop_lag"]["n"] > 0, name
    assert all(call["n"] == bench["async"]["params"]["calls"] for call in bench["async"]["per_call"].values())
    assert set(bench["async"]["worker_bursts"]) == {"check_async", "check_threads"}

    # every ratio and every target verdict is present (their values are the report's business)
    assert all(value is not None for value in report["ratios"].values()), report["ratios"]
    assert all(value is not None for value in report["overheads_ms"].values()), report["overheads_ms"]
    assert all(t["met"] is not None for t in report["targets"]), report["targets"]
    assert plot_path.read_bytes().startswith(PNG_MAGIC)


def assert_pumping_figures(pumping: dict) -> None:
    """The breaker stopped the attack and let the users of other prefixes through, and lifted."""
    attack = pumping["attack"]
    assert attack["trips"] >= 1
    assert attack["spent_before_first_trip"] >= pumping["params"]["min_sends"] * 0.5
    assert attack["spent_total"] + attack["refused"] == attack["sends"]
    assert attack["spent_total"] < attack["sends"]
    others = pumping["other_users"]
    assert (others["refused"], others["verified"]) == (0, others["users"])
    inside = pumping["prefix_users"]
    assert inside["refused"] == inside["refused_by_breaker"]
    assert inside["refused"] + inside["verified"] == inside["users"]
    assert pumping["lifted_after_attack_s"] is not None
    assert pumping["errors"] == []


@pytest.mark.bench
@pytest.mark.timeout(200)
def test_bench_pumping_quick_stops_the_attack_spares_other_prefixes_and_lifts(tmp_path: Path) -> None:
    json_path = tmp_path / "pumping.json"
    completed = subprocess.run(
        [sys.executable, "-m", "smsq.cli", "bench", "pumping", "--quick", "--json", str(json_path)],
        env={**os.environ, **NO_CLOUD_PROBES},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(json_path.read_text())
    assert_pumping_figures(report["benchmarks"]["pumping"])
    verdicts = {t["name"]: t["met"] for t in report["targets"]}
    assert verdicts["pumping: normal users refused in other prefixes == 0"] is True


def test_the_sliding_window_counts_the_busiest_second_exactly() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3  # [0, 1) holds 0, .5, .99
    assert max_in_window([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5]) == 4  # a send exactly 1 s later is out


def test_a_report_without_results_has_no_ratios_and_nothing_measured() -> None:
    assert all(value is None for value in ratios({}).values())
    assert all(value is None for value in overheads_ms({}).values())
    assert all(t.met is None and t.gap == "not measured" for t in targets({}))


def test_scale_defaults_to_powers_of_two_up_to_the_cpu_count() -> None:
    assert default_processes(1) == [1, 2]
    assert default_processes(2) == [1, 2]
    assert default_processes(12) == [1, 2, 4, 8]
    assert default_processes(16) == [1, 2, 4, 8, 16]


def test_scaling_efficiency_is_the_rate_against_linear_growth_from_the_first_point() -> None:
    points = [
        {"processes": 1, "per_s": 100.0},
        {"processes": 2, "per_s": 150.0},
        {"processes": 8, "per_s": 800.0},
    ]
    add_efficiency(points)
    assert [point["efficiency"] for point in points] == [1.0, 0.75, 1.0]
    later = [{"processes": 2, "per_s": 200.0}, {"processes": 4, "per_s": 300.0}]
    add_efficiency(later)
    assert [point["efficiency"] for point in later] == [1.0, 0.75]


def test_the_targets_of_issue_16_judge_smsq_against_the_naive_task() -> None:
    results: dict[str, Any] = {
        "throughput": {
            "smsq": {"per_s": 90.0, "cpu_ms_per_send": {"workers": 6.0}},
            "naive": {"per_s": 100.0, "cpu_ms_per_send": {"workers": 5.0}},
        },
        "check": {"runs": {"0": {"overhead_p50_ms": 0.2}, "20": {"overhead_p50_ms": 0.3}}},
    }
    verdicts = {t.name: t.met for t in targets(results)}
    assert verdicts["throughput >= 0.8x naive Celery+SDK task"] is True
    assert verdicts["worker CPU/send <= 1.3x naive task"] is True
    assert verdicts["check_code overhead <= 0.25 ms p50 at 0 ms"] is True
    assert verdicts["check_code overhead <= 0.25 ms p50 at 20 ms"] is False
    results["throughput"]["smsq"]["cpu_ms_per_send"]["workers"] = 6.6
    verdicts = {t.name: t.met for t in targets(results)}
    assert verdicts["worker CPU/send <= 1.3x naive task"] is False


def test_the_check_bench_reports_the_floor_of_each_worker_mode_ratio() -> None:
    samples = {"worker": [3.0], "direct": [2.0], "bare": [1.0], "sdk": [1.5], "seed": [2.5], "redis": [0.25]}
    breakdown = check_summary(samples)["worker_breakdown_p50_ms"]
    # worker mode does at least a bare round trip plus the SDK call: (1 + 1.5) / 1
    assert breakdown["floor_worker_over_bare"] == 2.5
    # and at least all direct does plus a bare round trip less its publish: (2 + 1 - 0.25) / 2
    assert breakdown["floor_worker_over_direct"] == 1.375


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["scale", "--processes", "0,2"], "process counts must be 1 or more"),
        (["scale", "--processes", "one,two"], "a comma-separated list of process counts"),
        (["check", "--processes", "1,2"], "--processes applies to scale (and all) only"),
    ],
)
def test_bench_refuses_bad_process_counts_before_running_anything(
    arguments: list[str], complaint: str
) -> None:
    result = CliRunner().invoke(bench, arguments)
    assert result.exit_code == 2
    assert complaint in result.output


def test_redis_calls_tell_round_trips_from_the_commands_scripts_run() -> None:
    with Stack() as stack:
        client = redis.Redis.from_url(stack.redis())
        calls = RedisCalls(client)
        calls.start()
        client.eval("redis.call('SET', KEYS[1], 1) return redis.call('GET', KEYS[1])", 1, "a")
        pipe = client.pipeline(transaction=False)
        pipe.get("a")
        pipe.get("b")
        pipe.execute()
        client.incr("c")
        calls.stop()
        client.close()
    assert calls.round_trips == 3  # the script, the pipeline, the INCR (redis-py sends INCRBY)
    assert {name: made for name, (made, _) in calls.commands.items()} == {
        "eval": 1,
        "get": 3,
        "set": 1,
        "incrby": 1,
    }
    assert all(usec >= 0 for _, usec in calls.commands.values())
