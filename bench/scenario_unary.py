"""Scenario 1: unary EnqueueAutomation, closed loop, with 1 and with 32 concurrent callers.

Every request is a new booking, so each call validates, claims a new key in Redis, produces to Kafka
and waits for the broker's ack. Reports accepted calls per second and call latency, and the CPU used
by the trigger, the generator and the embedded backends to tell which one limits the rate.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import drive, warm_up, watched
from bench.report import ScenarioResult
from bench.services import Trigger
from bench.stack import Stack
from bench.stats import latency_ms, rate

CALLERS = (1, 32)


def split(callers: int, processes: int) -> list[int]:
    """``callers`` spread over at most ``processes`` client processes."""
    processes = max(1, min(processes, callers))
    return [callers // processes + (i < callers % processes) for i in range(processes)]


def run(
    stack: Stack, duration_s: float, client_procs: int = 1, profile_dir: Path | None = None
) -> ScenarioResult:
    result = ScenarioResult("1", f"Unary EnqueueAutomation, closed loop, {duration_s:g}s per row")
    topic = stack.topic("unary")
    with Trigger(stack, "trigger-unary", topic) as trigger:
        warm_up(trigger.address, f"u{stack.run_id}w")
        for callers in CALLERS:
            shares = split(callers, client_procs)
            kwargs = [
                {
                    "address": trigger.address,
                    "concurrency": share,
                    "duration_s": duration_s,
                    "prefix": f"u{stack.run_id}c{callers}p{i}",
                }
                for i, share in enumerate(shares)
            ]
            run_ = drive(
                "unary",
                kwargs,
                watched(stack, trigger=[trigger.pid]),
                duration_s + 60,
                profile_dir,
                f"unary-c{callers}",
            )
            latencies = [x for r in run_.results for x in r["latencies"]]
            errors: dict[str, int] = {}
            for r in run_.results:
                for code, n in r["errors"].items():
                    errors[code] = errors.get(code, 0) + n
            elapsed = max(r["elapsed"] for r in run_.results)
            result.rows.append(
                {
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
                result.notes.append(f"{callers} callers: errors by code {errors}")
            result.profiles.update(run_.profiles)
    result.notes.append(
        "cpu_cores: CPU used during the row, in cores (1.00 = one core busy); the trigger is one Python "
        "process, so near 1.0 there means its GIL is the limit"
    )
    return result
