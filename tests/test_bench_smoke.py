"""``python -m bench --smoke``: every benchmark scenario runs end to end and reports its numbers.

Not a performance test: no timing thresholds, only that each scenario measured what it sent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import SIZES

ROOT = Path(__file__).resolve().parent.parent
SMOKE = SIZES["smoke"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_scenario_reports_its_numbers(kafka_bootstrap, redis_url, postgres_admin_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOMATION_", "BENCH_"))}
    env |= {
        "BENCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_POSTGRES_URL": postgres_admin_url or "",  # empty: the PostgreSQL parts are skipped
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    [result_file] = tmp_path.glob("*.json")
    scenarios = json.loads(result_file.read_text())["scenarios"]
    assert sorted(scenarios) == ["1", "2", "3", "4", "5", "6", "7", "8"]
    for key in "12345678":
        assert f"== {key}. " in proc.stdout

    unary = scenarios["1"]["rows"]
    assert [(row["rpc"], row["callers"]) for row in unary] == [
        ("EnqueueAutomation", 1),
        ("EnqueueAutomation", 32),
        ("Health.Check (no-op)", 32),
    ]
    for row in unary:
        assert row["accepted"] > 0 and row["errors"] == 0
        assert 0 < row["p50_ms"] <= row["p99_ms"] and row["accepted_per_s"] > 0

    batch = scenarios["2"]
    assert batch["status"] in ("ok", "unimplemented")
    if batch["status"] == "ok":
        [row] = batch["rows"]
        assert row["accepted_jobs"] == row["calls"] * row["items_per_call"] > 0
        assert row["item_errors"] == row["call_errors"] == 0 and row["p50_ms"] > 0

    drains = scenarios["3"]["rows"] + scenarios["6"]["rows"]
    assert SMOKE["drain_jobs"] == SMOKE["scaleout_jobs"]
    assert [r["db"] for r in scenarios["3"]["rows"]] == ["sqlite"] + ["postgres"] * bool(postgres_admin_url)
    assert [r["executors"] for r in scenarios["6"]["rows"]] == ([1, 2] if postgres_admin_url else [])
    for row in drains:
        assert row["jobs"] == row["succeeded_rows"] == SMOKE["drain_jobs"] and row["other_rows"] == 0
        assert row["jobs_per_s"] > 0 and 0 < row["to_assigned_s"] <= row["to_all_rows_s"]

    e2e, call, lag = scenarios["4"]["rows"]
    offered = int(SMOKE["latency_rate"] * SMOKE["latency_s"])
    assert e2e["jobs"] == call["jobs"] == lag["jobs"] == offered
    assert call["p50_ms"] > 0 and e2e["max_ms"] >= e2e["p99_ms"] >= e2e["p50_ms"] > 0

    memory = scenarios["5"]["rows"]
    processes = {row["process"] for row in memory}
    assert {"trigger-latency", "executor-latency", "executor-drain-sqlite-1x-0"} <= processes
    assert all(row["peak_rss_mib"] > 0 for row in memory)

    cost = scenarios["8"]
    by_process = {row["process"]: row for row in cost["rows"]}
    assert {"trigger", "executor", "redis"} <= set(by_process)
    assert ("postgres" in by_process) == bool(postgres_admin_url)
    [total] = [row for name, row in by_process.items() if name.startswith("SUM")]
    for name in ("trigger", "executor"):
        assert by_process[name]["cpu_us_per_job"] > 0 and by_process[name]["idle_cores"] >= 0
    assert (
        total["cpu_us_per_job"]
        >= by_process["trigger"]["cpu_us_per_job"] + by_process["executor"]["cpu_us_per_job"]
    )
    cost_offered = int(SMOKE["cost_rate"] * SMOKE["cost_s"])
    assert cost["details"]["jobs"] == cost["details"]["e2e"]["jobs"] == cost_offered
    assert cost["details"]["idle_broker_and_services_cores"] >= 0
    floor = cost["details"]["noop_floor"]  # the no-op Health.Check paced like the jobs, same trigger
    assert floor["calls"] == cost_offered and not floor["errors"] and floor["trigger_us_per_call"] > 0
    assert "IDLE" in proc.stdout
    assert {"trigger-cost", "executor-cost"} <= processes

    side = scenarios["7"]
    if not (shutil.which("node") and shutil.which("npm")):
        assert side["status"] == "skipped" and "BullMQ side skipped" in proc.stdout
        return
    if side["status"] == "skipped":  # node is there but the packages could not be installed (offline?)
        assert any("npm ci" in note for note in side["notes"]), side["notes"]
        pytest.skip("BullMQ side of scenario 7 skipped: " + side["notes"][0])
    assert side["status"] == "ok", side["notes"]
    rows = {row["measure"].split(":")[0].split(",")[0]: row for row in side["rows"]}
    assert rows["one job a call"]["bullmq"] > 0 and rows["one job a call"]["ours"] > 0
    assert rows["batch"]["bullmq"] > 0 and rows["batch"]["ours"] > 0
    bullmq = side["details"]["bullmq"]
    assert bullmq["add"]["errors"] == bullmq["bulk"]["errors"] == 0
    if postgres_admin_url:
        drain = bullmq["drain"]
        assert drain["succeeded_rows"] == drain["jobs"] == SMOKE["drain_jobs"] and drain["failed_jobs"] == 0
        assert rows["drain"]["bullmq"] > 0 and rows["drain"]["ours"] > 0
        assert (SMOKE["cost_rate"], SMOKE["cost_s"]) == (SMOKE["latency_rate"], SMOKE["latency_s"])
        [e2e_row] = bullmq["e2e"].values()  # smoke: one rate (scenario 4's and 8's are equal)
        assert (
            e2e_row["jobs"] == e2e_row["seen"] == cost_offered and e2e_row["p99_ms"] >= e2e_row["p50_ms"] > 0
        )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_first_job_reports_the_wait_of_each_call(kafka_bootstrap, redis_url, postgres_admin_url):
    """`python -m bench.first_job` (ARCHITECTURE.md quotes it): one wait per call, then min / p50 / max."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOMATION_", "BENCH_"))}
    env |= {
        "BENCH_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BENCH_REDIS_URL": redis_url,
        "BENCH_POSTGRES_URL": postgres_admin_url or "",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bench.first_job", "2", "1.1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    waits = [float(line.split("wait")[1].split()[0]) for line in proc.stdout.splitlines() if " wait " in line]
    assert len(waits) == 2 and all(w > 0 for w in waits), proc.stdout
    assert f"max {max(waits):.1f} ms" in proc.stdout.splitlines()[-1]
