"""Scenario 1: unary EnqueueAutomation, closed loop, with 1 and with 32 concurrent callers.

Every request is a new booking, so each call validates, claims a new key in Redis, produces to Kafka
and waits for the broker's ack. Reports accepted calls per second and call latency, and the CPU used
by the trigger, the generator and the embedded backends to tell which one limits the rate. With full
sizes a row runs the 32 callers against two trigger processes (as two replicas), half each. A last row
calls the no-op Health.Check with 32 callers: the ceiling of the gRPC layer itself on this machine.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import drive, replicas, summed, watched
from bench.report import ScenarioResult
from bench.stack import Stack
from bench.stats import latency_ms, rate

CALLERS = (1, 32)


def split(callers: int, processes: int) -> list[int]:
    """``callers`` spread over at most ``processes`` client processes."""
    processes = max(1, min(processes, callers))
    return [callers // processes + (i < callers % processes) for i in range(processes)]


def run(
    stack: Stack,
    duration_s: float,
    client_procs: int = 1,
    profile_dir: Path | None = None,
    trigger_counts: tuple[int, ...] = (1,),
) -> ScenarioResult:
    """1 and 32 callers against one trigger; then 32 callers split over each larger count of
    ``trigger_counts`` trigger processes (as replicas behind a load balancer), a client process each."""
    result = ScenarioResult("1", f"Unary EnqueueAutomation, closed loop, {duration_s:g}s per row")
    plan = [(1, callers, False) for callers in CALLERS] + [
        (n, CALLERS[-1], False) for n in trigger_counts if n > 1
    ]
    plan.append((1, CALLERS[-1], True))
    for n, callers, noop in plan:
        with replicas(stack, f"unary{n}x{callers}" + ("noop" if noop else ""), n) as triggers:
            procs = max(client_procs, n)
            shares = split(callers, procs)
            kwargs = [
                {
                    "address": triggers[i % n].address,
                    "concurrency": share,
                    "duration_s": duration_s,
                    "prefix": f"u{stack.run_id}r{n}c{callers}p{i}",
                    "noop": noop,
                }
                for i, share in enumerate(shares)
            ]
            label = f"unary-c{callers}" + (f"-{n}triggers" if n > 1 else "") + ("-noop" if noop else "")
            watch = watched(stack, trigger=[t.pid for t in triggers])
            run_ = drive("unary", kwargs, watch, duration_s + 60, profile_dir, label)
        latencies = [x for r in run_.results for x in r["latencies"]]
        errors = summed(r["errors"] for r in run_.results)
        elapsed = max(r["elapsed"] for r in run_.results)
        result.rows.append(
            {
                "rpc": "Health.Check (no-op)" if noop else "EnqueueAutomation",
                "triggers": n,
                "callers": callers,
                "client_procs": len(shares),
                "accepted": len(latencies),
                "errors": sum(errors.values()),
                "accepted_per_s": rate(len(latencies), elapsed),
                **latency_ms(latencies),
                "cpu_cores": run_.cpu_cores,
            }
        )
        if errors:
            result.notes.append(f"{n} trigger(s), {callers} callers: errors by code {dict(errors)}")
        result.profiles.update(run_.profiles)
    result.notes.append(
        "the Health.Check row calls the standard health service, which does no work: the gRPC layer's "
        "own cost (server + generator), i.e. the ceiling of any unary call here"
    )
    result.notes.append(
        "cpu_cores: CPU used during the row, in cores (1.00 = one core busy); each trigger is one Python "
        "process, so near 1.0 per trigger means its GIL is the limit ('trigger' sums them)"
    )
    return result
