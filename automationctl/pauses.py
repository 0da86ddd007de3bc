"""``automationctl pause | resume | paused``: hold back the jobs of some types or channels (or all), lift
pauses, and list the pauses in force (who paused what, when and why)."""

from __future__ import annotations

import argparse

from automationctl import convert
from automationctl.context import Context
from automationctl.output import OK
from shared.client_pauses import PauseInfo, Scope
from shared.names import type_name
from shared.pauses import PAUSABLE_CHANNELS
from shared.pii import redact_text

PAUSE_HEADERS = ("SCOPE", "VALUE", "PAUSED AT", "BY", "REASON")


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    for name, verb, all_help in (
        ("pause", "hold back", "every job"),
        ("resume", "lift the pauses of", "lift every pause in force"),
    ):
        parser = subparsers.add_parser(name, parents=parents, help=f"{verb} automations by type or channel")
        parser.add_argument("--type", action="append", default=[], metavar="T", help="repeatable")
        parser.add_argument(
            "--channel", action="append", default=[], choices=PAUSABLE_CHANNELS, help="repeatable"
        )
        parser.add_argument("--all", action="store_true", help=all_help)
        parser.add_argument("--reason", required=True, help="why (kept in the audit log with your name)")
        parser.set_defaults(func=run)
    listing = subparsers.add_parser("paused", parents=parents, help="the pauses in force")
    listing.set_defaults(func=run_list)


def run(args: argparse.Namespace, ctx: Context) -> int:
    types = convert.type_list(args.type)
    scope: Scope = {"automation_types": types, "channels": args.channel, "everything": args.all}
    with ctx.client() as client:
        call = client.pause if args.command == "pause" else client.resume
        result = call(reason=args.reason, **scope)
    pausing = args.command == "pause"
    ctx.out.document(
        {
            "paused" if pausing else "resumed": [_doc(p) for p in result.changed],
            "pauses": [_doc(p) for p in result.pauses],
        }
    )
    named = (
        [type_name(t) for t in types] + [f"channel {c}" for c in args.channel] + (["all"] if args.all else [])
    )
    if result.changed:
        done = ", ".join(_label(p) for p in result.changed)
        ctx.out.line(f"paused {done}" if pausing else f"resumed {done}: held jobs go out within seconds")
    else:
        ctx.out.line(("already paused: " if pausing else "not paused: ") + ", ".join(named))
    _print_pauses(ctx, result.pauses)
    return OK


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.client() as client:
        pauses = client.pauses()
    ctx.out.document({"pauses": [_doc(p) for p in pauses]})
    _print_pauses(ctx, pauses)
    return OK


def _print_pauses(ctx: Context, pauses: list[PauseInfo]) -> None:
    if not pauses:
        ctx.out.line("nothing is paused")
        return
    ctx.out.line(f"{len(pauses)} pause(s) in force:")
    ctx.out.table(
        PAUSE_HEADERS,
        [(p.scope, p.value, _when(p), p.paused_by or "-", redact_text(p.reason)) for p in pauses],
    )


def _label(p: PauseInfo) -> str:
    return "everything" if p.scope == "all" else f"{p.scope} {p.value}"


def _when(p: PauseInfo) -> str:
    return p.paused_at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _doc(p: PauseInfo) -> dict[str, str]:
    return {
        "scope": p.scope,
        "value": p.value,
        "reason": p.reason,
        "paused_by": p.paused_by,
        "paused_at": _when(p),
    }
