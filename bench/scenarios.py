"""The scenario list, their sizes (full and smoke), and how each is called."""

from __future__ import annotations

from pathlib import Path

from bench import (
    scenario_batch,
    scenario_drain,
    scenario_latency,
    scenario_memory,
    scenario_scaleout,
    scenario_unary,
)
from bench.report import ScenarioResult
from bench.stack import Stack

SCENARIOS = {
    "1": "unary EnqueueAutomation, 1 and 32 callers",
    "2": "batch EnqueueAutomations",
    "3": "executor drain, SQLite and PostgreSQL",
    "4": "end-to-end latency, paced",
    "5": "peak RSS of the services (during 3 and 4)",
    "6": "drain with two executors versus one (PostgreSQL)",
}

SIZES = {
    "full": {
        "unary_s": 10.0,
        "batch_s": 10.0,
        "batch_callers": 4,
        "batch_items": 500,
        "trigger_replicas": (1, 2),
        "drain_jobs": 20_000,
        "drain_raised_unrecorded": (500,),
        "latency_rate": 500.0,
        "latency_s": 10.0,
        "scaleout_jobs": 20_000,
    },
    "smoke": {
        "unary_s": 0.5,
        "batch_s": 0.5,
        "batch_callers": 2,
        "batch_items": 20,
        "trigger_replicas": (1,),
        "drain_jobs": 50,
        "drain_raised_unrecorded": (),
        "latency_rate": 50.0,
        "latency_s": 1.0,
        "scaleout_jobs": 50,
    },
}


def run_scenario(
    key: str,
    stack: Stack,
    sizes: dict,
    done: list[ScenarioResult],
    client_procs: int,
    profile_dir: Path | None,
) -> ScenarioResult:
    if key == "1":
        return scenario_unary.run(
            stack, sizes["unary_s"], client_procs, profile_dir, sizes["trigger_replicas"]
        )
    if key == "2":
        return scenario_batch.run(
            stack,
            sizes["batch_s"],
            sizes["batch_callers"],
            sizes["batch_items"],
            profile_dir,
            sizes["trigger_replicas"],
        )
    if key == "3":
        return scenario_drain.run(stack, sizes["drain_jobs"], profile_dir, sizes["drain_raised_unrecorded"])
    if key == "4":
        return scenario_latency.run(stack, sizes["latency_rate"], sizes["latency_s"], profile_dir)
    if key == "5":
        return scenario_memory.run(done)
    if key == "6":
        return scenario_scaleout.run(stack, sizes["scaleout_jobs"], profile_dir)
    raise ValueError(f"no scenario {key}")
