"""The scenario list, their sizes (full and smoke), and how each is called."""

from __future__ import annotations

from pathlib import Path

from bench import (
    scenario_batch,
    scenario_bullmq,
    scenario_cost,
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
    "7": "side by side with BullMQ (the design we replace) on the same backends, and issue #16's targets",
    "8": "CPU per job at a paced rate, and the idle cost",
}

# Scenarios that report numbers measured by others run after them (choosing them chooses those too).
NEEDS = {"5": ("3", "4"), "7": ("1", "2", "3", "4", "5", "8")}

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
        "cost_rate": 200.0,
        "cost_s": 10.0,
        "idle_s": 10.0,
        "bullmq_bulk_items": 100,
        "npm_timeout_s": 300.0,
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
        "cost_rate": 50.0,
        "cost_s": 1.0,
        "idle_s": 0.5,
        "bullmq_bulk_items": 100,
        "npm_timeout_s": 60.0,
    },
}


def with_needs(chosen: list[str]) -> list[str]:
    """``chosen`` plus what they need, in running order: the others first, then those that need them."""
    keys = set(chosen)
    while extra := {n for k in keys for n in NEEDS.get(k, ()) if n not in keys}:
        keys |= extra

    def depth(key: str) -> int:
        return 1 + max((depth(n) for n in NEEDS.get(key, ())), default=-1)

    return sorted(keys, key=lambda k: (depth(k), int(k)))


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
    if key == "7":
        return scenario_bullmq.run(stack, sizes, done)
    if key == "8":
        return scenario_cost.run(stack, sizes["cost_rate"], sizes["cost_s"], sizes["idle_s"], profile_dir)
    raise ValueError(f"no scenario {key}")
