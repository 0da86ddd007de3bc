"""Scenario 5: peak resident memory (VmHWM from /proc/<pid>/status, read just before SIGTERM) of every
service process started by scenarios 3, 4, 6 and 8. ``python -m executor_service`` runs its work in
threads of that one process (no child processes); children would be added if there were any."""

from __future__ import annotations

from bench.report import ScenarioResult


def run(done: list[ScenarioResult]) -> ScenarioResult:
    result = ScenarioResult("5", "Peak RSS of the service processes (VmHWM)")
    result.rows = [record for r in done if r.key in ("3", "4", "6", "8") for record in r.memory]
    if not result.rows:
        result.status = "skipped"
        result.notes.append("nothing measured: scenarios 3 and 4 did not run")
    return result
