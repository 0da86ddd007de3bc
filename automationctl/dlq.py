"""``automationctl dlq list`` and ``dlq replay``: dead letters (ListDeadLetters, ReplayDeadLetters)."""

from __future__ import annotations

import argparse
import itertools
import sys

from automationctl import convert
from automationctl.context import Context
from automationctl.output import OK, PARTIAL, USAGE, as_dict, iso, short
from shared.client import MAX_BATCH_ITEMS
from shared.proto.automation.v1 import automation_pb2 as pb

SHOWN_ROWS = 50


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    dlq = subparsers.add_parser("dlq", help="list or replay dead-lettered jobs")
    commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="{list,replay}")
    listing = commands.add_parser("list", parents=parents, help="dead letters, newest first")
    convert.add_filter_arguments(listing)
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.set_defaults(func=run_list)
    replay = commands.add_parser(
        "replay",
        parents=parents,
        help="send matching dead letters again",
        description="Replays every matching dead letter, 500 per call, while some remain. Each goes back "
        "to the jobs topic with its idempotency key; one that succeeded since, or was replayed, is not sent.",
    )
    convert.add_filter_arguments(replay)
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed; change nothing")
    replay.add_argument("--max-per-second", type=float, default=0.0, metavar="R", help="pace (0: no limit)")
    replay.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    replay.set_defaults(func=run_replay)


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    query = convert.dead_letter_filter(args)
    with ctx.client() as client:
        page = max(1, min(args.limit, 500))
        letters = list(itertools.islice(client.dead_letters(query, page_size=page), max(args.limit, 0)))
    ctx.out.document({"dead_letters": [as_dict(d) for d in letters]})
    if not letters:
        ctx.out.line("no dead letters")
        return OK
    headers = ["run", "job", "type", "recipient", "booking", "attempt", "dead-lettered at", "class", "error"]
    rows = [
        [
            d.run.id,
            d.run.job_id,
            d.run.automation_type,
            d.run.recipient,
            d.run.booking_id,
            d.run.attempt,
            iso(d.run.finished_at),
            d.run.error_class,
            short(d.run.error, 40)
            + (f" (replayed as {d.replayed_as_job_id})" if d.replayed_as_job_id else ""),
        ]
        for d in letters
    ]
    ctx.out.table(headers, rows)
    return OK


def run_replay(args: argparse.Namespace, ctx: Context) -> int:
    query = convert.dead_letter_filter(args)
    if not args.dry_run and not args.yes and not sys.stdin.isatty():
        ctx.out.error("dlq replay needs --yes when stdin is not a terminal (or --dry-run)")
        return USAGE
    with ctx.client() as client:
        if args.dry_run:
            return _dry_run(ctx, client.replay(query, dry_run=True, limit=MAX_BATCH_ITEMS))
        if not args.yes:
            preview = client.replay(query, dry_run=True, limit=MAX_BATCH_ITEMS)
            count = len(preview.replayed) + preview.remaining
            answer = input(f"Replay {count} dead letter(s) through {ctx.target}? [y/N] ") if count else "y"
            if answer.strip().lower() not in ("y", "yes"):
                ctx.out.error("not replayed")
                return USAGE
        replayed: list[pb.ReplayedJob] = []
        left = 0
        with ctx.out.bar(None, "replay") as bar:
            while True:
                response = client.replay(query, max_per_second=args.max_per_second, limit=MAX_BATCH_ITEMS)
                replayed.extend(response.replayed)
                left = response.remaining
                bar.total = bar.total or len(response.replayed) + left
                bar.advance(len(response.replayed))
                # A call that replays nothing while some remain (broker not acknowledging, inputs that no
                # longer parse) would do the same again: stop and report them as failed.
                if left <= 0 or not response.replayed:
                    break
    return _report(ctx, replayed, left)


def _dry_run(ctx: Context, response: pb.ReplayDeadLettersResponse) -> int:
    total = len(response.replayed) + response.remaining
    ctx.out.document(
        {"dry_run": True, "would_replay": total, "replayed": [as_dict(j) for j in response.replayed]}
    )
    _table(ctx, list(response.replayed), dry_run=True)
    ctx.out.line(f"would replay {total} dead letter(s) (dry run: nothing changed)")
    return OK


def _report(ctx: Context, replayed: list[pb.ReplayedJob], not_replayed: int) -> int:
    """Exit 1 when dead letters that matched are left (the last call could replay none of them)."""
    ctx.out.document(
        {
            "dry_run": False,
            "replayed": [as_dict(j) for j in replayed],
            "count": len(replayed),
            "not_replayed": not_replayed,
        }
    )
    _table(ctx, replayed, dry_run=False)
    ctx.out.line(f"replayed {len(replayed)} dead letter(s)")
    if not_replayed:
        ctx.out.error(f"{not_replayed} matching dead letter(s) could not be replayed; see the trigger's logs")
        return PARTIAL
    return OK


def _table(ctx: Context, jobs: list[pb.ReplayedJob], *, dry_run: bool) -> None:
    if not jobs:
        return
    headers = ["original job", "type", "booking", "key"] + ([] if dry_run else ["new job"])
    rows = [
        [j.original_job_id, j.automation_type, j.booking_id, j.idempotency_key]
        + ([] if dry_run else [j.new_job_id])
        for j in jobs[:SHOWN_ROWS]
    ]
    ctx.out.table(headers, rows)
    if len(jobs) > SHOWN_ROWS:
        ctx.out.line(f"... {len(jobs) - SHOWN_ROWS} more (--json lists all)")
