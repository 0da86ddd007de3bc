"""Summaries of measured samples."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of latencies given in seconds, in milliseconds (2 decimals)."""
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2) if values else math.nan,
    }


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else math.nan


def per_second(sends: Sequence[tuple], seen: dict[str, float], started: float) -> list[dict]:
    """End-to-end latency by the second of the run in which each call was scheduled.

    ``sends`` holds ``(job_id, scheduled, sent, answered)`` tuples; ``seen`` maps a job id to the time its
    row was seen.
    """
    windows: dict[int, list[float]] = {}
    for job_id, scheduled, *_ in sends:
        if job_id in seen:
            windows.setdefault(int(scheduled - started), []).append(seen[job_id] - scheduled)
    return [{"second": s, "jobs": len(v), **latency_ms(v)} for s, v in sorted(windows.items())]
