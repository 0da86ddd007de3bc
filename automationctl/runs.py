"""``automationctl runs``: the EventLog rows of a job, an idempotency key or a booking (GetAutomationRuns)."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Iterable

from google.protobuf import json_format

from automationctl.context import Context
from automationctl.output import OK, as_dict, iso, short
from shared.proto.automation.v1 import automation_pb2 as pb

RUN_HEADERS = ["id", "status", "type", "recipient", "attempt", "finished_at", "error / reason"]


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "runs", parents=parents, help="show the runs of a job, key or booking (newest first)"
    )
    selector = parser.add_mutually_exclusive_group(required=True)
    selector.add_argument("--job-id")
    selector.add_argument("--key", help="idempotency key")
    selector.add_argument("--booking-id")
    parser.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.client() as client:
        found = client.runs(
            job_id=args.job_id,
            idempotency_key=args.key,
            booking_id=args.booking_id,
            page_size=max(1, min(args.limit, 500)),
        )
        runs = list(itertools.islice(found, max(args.limit, 0)))
    ctx.out.document({"runs": [as_dict(r) for r in runs]})
    if runs:
        ctx.out.table(RUN_HEADERS, run_rows(runs))
    else:
        ctx.out.line("no runs")
    return OK


def run_rows(runs: Iterable[pb.AutomationRun]) -> list[list[object]]:
    """Table rows of runs; no contact details (inputs and outputs are not shown)."""
    return [
        [r.id, r.status, r.automation_type, r.recipient, r.attempt, iso(r.finished_at), why(r)] for r in runs
    ]


def why(run: pb.AutomationRun) -> str:
    """One short line: the error, the reason a job ended without sending, or when it is due."""
    if run.error:
        prefix = f"[{run.error_class}] " if run.error_class else ""
        return short(prefix + run.error)
    outputs = json_format.MessageToDict(run.outputs) if run.HasField("outputs") else {}
    if reason := outputs.get("reason"):
        return short(str(reason))
    if due := outputs.get("due_at"):
        return short(f"due {due}")
    if run.replay_of:
        return short(f"replay of {run.replay_of}")
    return ""
