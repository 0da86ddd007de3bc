"""``automationctl demo``: enqueue sample bookings (as ``make demo`` does) and show their runs.

The sample bookings are ``automationctl/demo_bookings.py``'s (the same as ``make demo``'s).
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import UTC, datetime

from automationctl.context import Context
from automationctl.demo_bookings import REQUESTS, daytime_zone, demo_request
from automationctl.output import OK, PARTIAL, as_dict
from automationctl.runs import RUN_HEADERS, run_rows
from shared.client import AutomationClient
from shared.proto.automation.v1 import automation_pb2 as pb


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", parents=parents, help="enqueue sample bookings and show their runs"
    )
    parser.add_argument("--bookings", type=int, default=1, help="sample bookings (default 1)")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the runs (default 30)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    zone = daytime_zone(datetime.now(UTC))
    bookings = [f"demo-{uuid.uuid4().hex[:8]}" for _ in range(max(args.bookings, 1))]
    requests = [
        demo_request(b, automation_type, recipient, timezone=zone)
        for b in bookings
        for automation_type, recipient in REQUESTS
    ]
    with ctx.client() as client:
        with ctx.out.bar(len(requests), "enqueue") as bar:
            results = client.enqueue_many(requests, on_progress=bar.advance)
        jobs = {r.accepted.job_id for r in results if r.accepted is not None}
        runs = _wait_for_runs(client, bookings, jobs, args.wait)
    ctx.out.document(
        {
            "bookings": bookings,
            "results": [
                {"accepted": as_dict(r.accepted)}
                if r.accepted
                else {"error": r.error.message if r.error else ""}
                for r in results
            ],
            "runs": [as_dict(r) for r in runs],
        }
    )
    ctx.out.line(f"enqueued {len(jobs)} of {len(requests)} jobs for {', '.join(bookings)} (time zone {zone})")
    ctx.out.table(RUN_HEADERS, run_rows(runs))
    seen = {r.job_id for r in runs}
    if len(jobs) < len(requests) or not jobs <= seen:
        ctx.out.error(f"{len(jobs & seen)} of {len(requests)} jobs have runs after {args.wait:.0f} s")
        return PARTIAL
    return OK


def _wait_for_runs(
    client: AutomationClient, bookings: list[str], jobs: set[str], wait_s: float
) -> list[pb.AutomationRun]:
    """Every run of the bookings, polled until each job has one (or ``wait_s`` passed), oldest first."""
    deadline = time.monotonic() + wait_s
    while True:
        runs = [run for b in bookings for run in client.runs(booking_id=b, page_size=500)]
        if jobs <= {r.job_id for r in runs} or time.monotonic() > deadline:
            return sorted(runs, key=lambda r: r.id)
        time.sleep(0.3)
