"""``automationctl prune`` and ``topics ensure``: maintenance straight on the database and on Kafka.

These two read the settings from the environment (``AUTOMATION_*``), like the services do.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from automationctl.context import Context
from automationctl.output import OK, SERVER_ERROR, UNREACHABLE, USAGE, InputError, short

MIN_AGE_DAYS = 1  # a younger cut-off needs --force (it would delete what on-call is looking at)


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    prune = subparsers.add_parser(
        "prune",
        parents=parents,
        help="delete old EventLog rows (AUTOMATION_DATABASE_URL)",
        description=(
            "Deletes EventLog rows older than the retention, oldest first, in batches. Rows of jobs that "
            "have not reached a final state (scheduled, retry_scheduled) are kept, however old. Asks for "
            "confirmation on a terminal; elsewhere --yes is required."
        ),
    )
    prune.add_argument(
        "--older-than-days", type=int, metavar="N", help="default: AUTOMATION_EVENTLOG_RETENTION_DAYS (30)"
    )
    prune.add_argument(
        "--batch-size", type=int, metavar="N", help="rows per batch (default: AUTOMATION_PRUNE_BATCH_SIZE)"
    )
    prune.add_argument("--dry-run", action="store_true", help="count what would be deleted, per status")
    prune.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    prune.add_argument("--force", action="store_true", help=f"allow --older-than-days below {MIN_AGE_DAYS}")
    prune.set_defaults(func=run_prune, needs_settings=True)

    topics = subparsers.add_parser("topics", help="Kafka topics of the pipeline")
    commands = topics.add_subparsers(dest="topics_command", required=True, metavar="{ensure}")
    ensure = commands.add_parser(
        "ensure",
        parents=parents,
        help="create missing topics (AUTOMATION_KAFKA_BOOTSTRAP_SERVERS)",
        description="Creates the jobs, retry, delay and dead-letter topics that do not exist yet.",
    )
    ensure.set_defaults(func=run_topics_ensure, needs_settings=True)


def run_prune(args: argparse.Namespace, ctx: Context) -> int:
    from sqlalchemy import make_url
    from sqlalchemy.exc import OperationalError

    from shared.db.retention import prune_eventlog, prune_preview

    settings = ctx.require_settings()
    days = settings.eventlog_retention_days if args.older_than_days is None else args.older_than_days
    if days < 0 or (args.batch_size is not None and args.batch_size < 1):
        raise InputError("--older-than-days must be at least 0 and --batch-size at least 1")
    if days < MIN_AGE_DAYS and not args.force:
        raise InputError(
            f"--older-than-days {days} would prune today's history; the minimum is {MIN_AGE_DAYS} "
            "(add --force to go below it)"
        )
    older_than = timedelta(days=days)
    try:
        by_status, kept = prune_preview(settings.sqlalchemy_url, older_than=older_than)
        total = sum(by_status.values())
        if args.dry_run or total == 0:
            return _report_preview(ctx, by_status, kept, days, dry_run=args.dry_run)
        if not args.yes and not _confirm(ctx, total, kept, days):
            return USAGE
        with ctx.out.bar(None, "pruned rows") as bar:
            deleted = prune_eventlog(
                settings.sqlalchemy_url,
                older_than=older_than,
                batch_size=args.batch_size or settings.prune_batch_size,
                on_batch=bar.advance,
            )
    except OperationalError as exc:
        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
        ctx.out.error(f"cannot reach the database at {where}: {short(str(exc.orig), 400)}")
        return UNREACHABLE
    ctx.out.document({"deleted": deleted, "older_than_days": days, "kept_not_final": kept})
    ctx.out.line(f"deleted {deleted} EventLog row(s) older than {days} day(s)")
    if kept:
        ctx.out.line(f"kept {kept} older row(s) of jobs not yet in a final state")
    return OK


def _report_preview(ctx: Context, by_status: dict[str, int], kept: int, days: int, *, dry_run: bool) -> int:
    total = sum(by_status.values())
    ctx.out.document(
        {
            "dry_run": dry_run,
            "deleted": 0,
            "would_delete": total,
            "by_status": by_status,
            "kept_not_final": kept,
            "older_than_days": days,
        }
    )
    verb = "would delete" if dry_run else "nothing to delete:"
    ctx.out.line(f"{verb} {total} EventLog row(s) older than {days} day(s)")
    if by_status:
        ctx.out.table(["status", "rows"], sorted(by_status.items()))
    if kept:
        ctx.out.line(f"keeps {kept} older row(s) of jobs not yet in a final state")
    return OK


def _confirm(ctx: Context, total: int, kept: int, days: int) -> bool:
    """Ask on a terminal; refuse without --yes elsewhere (a CronJob passes --yes)."""
    if ctx.out.json_mode or not sys.stdin.isatty():
        raise InputError(
            f"prune would delete {total} EventLog row(s) older than {days} day(s); pass --yes to confirm "
            "(or --dry-run to see them per status)"
        )
    extra = f" (keeping {kept} of jobs not yet final)" if kept else ""
    ctx.out.stderr.write(f"Delete {total} EventLog row(s) older than {days} day(s){extra}? [y/N] ")
    ctx.out.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer in {"y", "yes"}:
        return True
    ctx.out.error("prune cancelled; nothing deleted")
    return False


def run_topics_ensure(args: argparse.Namespace, ctx: Context) -> int:
    from confluent_kafka import KafkaError, KafkaException

    from shared.kafka_admin import ensure_topic_specs
    from shared.topics import topic_specs

    settings = ctx.require_settings()
    try:
        outcome = ensure_topic_specs(
            settings.kafka_bootstrap_servers,
            topic_specs(settings),
            timeout_s=ctx.timeout_s,
            security=settings.kafka_security(),
            quiet=True,
        )
    except KafkaException as exc:
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        down = error is not None and error.code() in (
            KafkaError._TRANSPORT,
            KafkaError._TIMED_OUT,
            KafkaError._ALL_BROKERS_DOWN,
        )
        what = "cannot reach Kafka at" if down else "Kafka error at"
        ctx.out.error(f"{what} {settings.kafka_bootstrap_servers}: {short(str(error or exc), 160)}")
        return UNREACHABLE if down else SERVER_ERROR
    ctx.out.document({"topics": outcome})
    ctx.out.table(["topic", "result"], list(outcome.items()))
    return OK
