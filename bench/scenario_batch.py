"""Scenario 2: batch enqueue with EnqueueAutomations, a few callers each sending full batches.

Reports accepted jobs per second (items, not calls) and call latency per batch. While the server side
of the RPC answers UNIMPLEMENTED the scenario says so instead of failing.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import drive, warm_up, watched
from bench.report import ScenarioResult
from bench.services import Trigger
from bench.stack import Stack
from bench.stats import latency_ms, rate


def run(
    stack: Stack, duration_s: float, callers: int, items: int, profile_dir: Path | None = None
) -> ScenarioResult:
    result = ScenarioResult(
        "2", f"Batch EnqueueAutomations, {callers} callers x {items} items, {duration_s:g}s"
    )
    topic = stack.topic("batch")
    with Trigger(stack, "trigger-batch", topic) as trigger:
        warm_up(trigger.address, f"b{stack.run_id}w")
        kwargs = {
            "address": trigger.address,
            "concurrency": callers,
            "duration_s": duration_s,
            "batch_size": items,
            "prefix": f"b{stack.run_id}",
        }
        run_ = drive(
            "batch", [kwargs], watched(stack, trigger=[trigger.pid]), duration_s + 120, profile_dir, "batch"
        )
    outcome = run_.results[0]
    call_errors, item_errors = outcome["call_errors"], outcome["item_errors"]
    if call_errors.get("UNIMPLEMENTED") and not outcome["accepted"]:
        result.status = "unimplemented"
        result.notes.append(
            "the trigger answers UNIMPLEMENTED for EnqueueAutomations: nothing to measure yet"
        )
        return result
    result.rows.append(
        {
            "callers": callers,
            "items_per_call": items,
            "calls": len(outcome["latencies"]),
            "accepted_jobs": outcome["accepted"],
            "item_errors": sum(item_errors.values()),
            "call_errors": sum(call_errors.values()),
            "accepted_jobs_per_s": rate(outcome["accepted"], outcome["elapsed"]),
            **latency_ms(outcome["latencies"]),
            "cpu_cores": run_.cpu_cores,
        }
    )
    if item_errors or call_errors:
        result.notes.append(f"errors by code: items {item_errors}, whole calls {call_errors}")
    result.notes.append("latency columns: one EnqueueAutomations call (a whole batch)")
    result.profiles.update(run_.profiles)
    return result
