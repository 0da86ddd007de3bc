"""Scenario 6: the PostgreSQL drain of scenario 3 with two executor processes in one consumer group
versus one, run back to back on fresh topics (6 partitions) and databases.

Two processes can use both cores (each executor is one Python process, bound by its GIL); the price is
a second group join and a rebalance while the first member is already draining.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import ScenarioResult
from bench.scenario_drain import drain
from bench.stack import Stack


def run(stack: Stack, jobs: int, profile_dir: Path | None = None) -> ScenarioResult:
    result = ScenarioResult("6", f"Drain of {jobs:,} jobs on PostgreSQL: two executors versus one")
    if stack.postgres_admin_url is None:
        result.status = "skipped"
        result.notes.append("no PostgreSQL server (set BENCH_POSTGRES_URL)")
        return result
    for executors in (1, 2):
        row, memory, profiles = drain(stack, "postgres", jobs, executors, "scaleout", profile_dir)
        result.rows.append(row)
        result.memory += memory
        result.profiles.update(profiles)
    one, two = result.rows
    if one["jobs_per_s"] and two["jobs_per_s"]:
        result.notes.append(
            f"two executors: {two['jobs_per_s'] / one['jobs_per_s']:.2f}x the drain rate of one; "
            f"time to all rows {two['to_all_rows_s']}s versus {one['to_all_rows_s']}s"
        )
    result.notes.append("same columns as scenario 3; peak_rss_mib per process")
    return result
