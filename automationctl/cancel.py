"""``automationctl cancel``: the booking's pending jobs (of some types, or all) never send."""

from __future__ import annotations

import argparse

from automationctl import convert
from automationctl.context import Context
from automationctl.output import OK, as_dict
from automationctl.runs import RUN_HEADERS, run_rows
from shared.names import type_name


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("cancel", parents=parents, help="cancel a booking's pending automations")
    parser.add_argument("--booking-id", required=True, metavar="B")
    parser.add_argument(
        "--type", action="append", default=[], metavar="T", help="repeatable; none: all types"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    types = convert.type_list(args.type)
    with ctx.client() as client:
        result = client.cancel(args.booking_id, types)
    names = [type_name(t) for t in types]
    when = result.cancelled_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ctx.out.document(
        {
            "booking_id": args.booking_id,
            "automation_types": names,
            "cancelled_at": when,
            "pending_jobs": result.pending_jobs,
            "cancelled_runs": [as_dict(run) for run in result.cancelled_runs],
        }
    )
    what = ", ".join(names) if names else "all"
    if result.pending_jobs:
        ctx.out.line(
            f"cancelled {result.pending_jobs} pending job(s) ({what}) of booking {args.booking_id}; "
            f"they show `cancelled` in runs now"
        )
        ctx.out.table(RUN_HEADERS, run_rows(result.cancelled_runs))
    else:
        ctx.out.line(f"nothing pending to cancel for booking {args.booking_id} ({what})")
    ctx.out.line(
        f"jobs of this booking ({what}) accepted before {when} and not run yet are cancelled too: "
        "they will not send"
    )
    return OK
