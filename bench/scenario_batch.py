"""Scenario 2: batch enqueue with EnqueueAutomations, a few callers each sending full batches.

Reports accepted jobs per second (items, not calls) and call latency per batch. While the server side
of the RPC answers UNIMPLEMENTED the scenario says so instead of failing. With full sizes it runs once
with one trigger process and once with two (each trigger is one Python process, bound by its GIL).
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import drive, replicas, summed, watched
from bench.report import ScenarioResult
from bench.scenario_unary import split
from bench.stack import Stack
from bench.stats import latency_ms, rate


def run(
    stack: Stack,
    duration_s: float,
    callers: int,
    items: int,
    profile_dir: Path | None = None,
    trigger_counts: tuple[int, ...] = (1,),
) -> ScenarioResult:
    """A row per trigger count in ``trigger_counts``: N trigger processes (as N replicas behind a load
    balancer), the callers split evenly between them, one client process per trigger."""
    result = ScenarioResult(
        "2", f"Batch EnqueueAutomations, {callers} callers x {items} items, {duration_s:g}s"
    )
    for n in trigger_counts:
        with replicas(stack, f"batch{n}", n) as triggers:
            kwargs = [
                {
                    "address": trigger.address,
                    "concurrency": share,
                    "duration_s": duration_s,
                    "batch_size": items,
                    "prefix": f"b{stack.run_id}r{n}t{i}",
                }
                for i, (trigger, share) in enumerate(zip(triggers, split(callers, n), strict=True))
            ]
            label = "batch" if n == 1 else f"batch-{n}triggers"
            watch = watched(stack, trigger=[t.pid for t in triggers])
            run_ = drive("batch", kwargs, watch, duration_s + 120, profile_dir, label)
        call_errors = summed(o["call_errors"] for o in run_.results)
        item_errors = summed(o["item_errors"] for o in run_.results)
        accepted = sum(o["accepted"] for o in run_.results)
        if call_errors.get("UNIMPLEMENTED") and not accepted:
            result.status = "unimplemented"
            result.notes.append(
                "the trigger answers UNIMPLEMENTED for EnqueueAutomations: nothing to measure yet"
            )
            return result
        result.rows.append(
            {
                "triggers": n,
                "callers": callers,
                "items_per_call": items,
                "calls": sum(len(o["latencies"]) for o in run_.results),
                "accepted_jobs": accepted,
                "item_errors": sum(item_errors.values()),
                "call_errors": sum(call_errors.values()),
                "accepted_jobs_per_s": rate(accepted, max(o["elapsed"] for o in run_.results)),
                **latency_ms([x for o in run_.results for x in o["latencies"]]),
                "cpu_cores": run_.cpu_cores,
            }
        )
        if item_errors or call_errors:
            result.notes.append(
                f"{n} trigger(s): errors by code: items {dict(item_errors)}, calls {dict(call_errors)}"
            )
        result.profiles.update(run_.profiles)
    result.notes.append("latency columns: one EnqueueAutomations call (a whole batch)")
    result.notes.append(
        "triggers: trigger processes, each with its own callers (as replicas behind a load balancer); "
        "cpu_cores 'trigger' is their sum"
    )
    return result
