"""``automationctl prune`` and ``topics ensure``: maintenance straight on the database and on Kafka.

These two read the settings from the environment (``AUTOMATION_*``), like the services do.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from shared.cli.context import Context
from shared.cli.output import OK, SERVER_ERROR, UNREACHABLE, InputError, short

DEFAULT_RETENTION_DAYS = 30  # when the settings have no eventlog_retention_days
DEFAULT_BATCH_SIZE = 1000  # when the settings have no prune_batch_size


def register(subparsers: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    prune = subparsers.add_parser(
        "prune",
        parents=parents,
        help="delete old EventLog rows (AUTOMATION_DATABASE_URL)",
        description="Deletes EventLog rows older than the retention, oldest first, in batches.",
    )
    prune.add_argument(
        "--older-than-days", type=int, metavar="N", help="default: AUTOMATION_EVENTLOG_RETENTION_DAYS (30)"
    )
    prune.add_argument(
        "--batch-size", type=int, metavar="N", help="rows per batch (default: AUTOMATION_PRUNE_BATCH_SIZE)"
    )
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

    from shared.db.retention import prune_eventlog

    settings = ctx.require_settings()
    days = args.older_than_days
    if days is None:
        days = getattr(settings, "eventlog_retention_days", DEFAULT_RETENTION_DAYS)
    if days < 0 or (args.batch_size is not None and args.batch_size < 1):
        raise InputError("--older-than-days must be at least 0 and --batch-size at least 1")
    batch_size = args.batch_size or getattr(settings, "prune_batch_size", DEFAULT_BATCH_SIZE)
    try:
        with ctx.out.bar(None, "pruned rows") as bar:
            deleted = prune_eventlog(
                settings.sqlalchemy_url,
                older_than=timedelta(days=days),
                batch_size=batch_size,
                on_batch=bar.advance,
            )
    except OperationalError as exc:
        where = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
        ctx.out.error(f"cannot reach the database at {where}: {short(str(exc.orig), 160)}")
        return UNREACHABLE
    ctx.out.document({"deleted": deleted, "older_than_days": days})
    ctx.out.line(f"deleted {deleted} EventLog row(s) older than {days} day(s)")
    return OK


def run_topics_ensure(args: argparse.Namespace, ctx: Context) -> int:
    from confluent_kafka import KafkaError, KafkaException

    from shared.kafka import ensure_topic_specs
    from shared.topics import topic_specs

    settings = ctx.require_settings()
    try:
        outcome = ensure_topic_specs(
            settings.kafka_bootstrap_servers, topic_specs(settings), security=settings.kafka_security()
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
