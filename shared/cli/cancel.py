"""``automationctl cancel``: the booking's pending jobs (of some types, or all) never send."""

from __future__ import annotations

import argparse

from shared.cli import convert
from shared.cli.context import Context
from shared.cli.output import OK
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
        cancelled_at = client.cancel(args.booking_id, types)
    names = [type_name(t) for t in types]
    when = cancelled_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ctx.out.document({"booking_id": args.booking_id, "automation_types": names, "cancelled_at": when})
    ctx.out.line(
        f"cancelled {', '.join(names) if names else 'all'} automations of booking {args.booking_id} "
        f"enqueued before {when}"
    )
    return OK
