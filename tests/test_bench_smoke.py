"""``python -m bench --smoke``: every benchmark scenario runs end to end and reports its numbers.

Not a performance test: no timing thresholds, only that each scenario measured what it sent.
"""

from __future__ import annotations

import json
import os
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
    assert sorted(scenarios) == ["1", "2", "3", "4", "5", "6"]
    for key in "123456":
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
