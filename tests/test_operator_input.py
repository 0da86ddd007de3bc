"""Bad input to every RPC of AutomationService is INVALID_ARGUMENT with field violations, on a real trigger
over gRPC with PostgreSQL and SQLite behind it: never UNKNOWN (a crash), INTERNAL, or UNAVAILABLE (which
tells the caller to retry what can never succeed), and never an ERROR or WARNING log line. The edges of
what is allowed are answered, and a real database outage is still UNAVAILABLE. The cases: issue #13."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
import redis

from shared.config import Settings
from shared.constants import MAX_PAGE_BYTES
from shared.db.engine import make_engine, make_session_factory
from shared.kafka_admin import ensure_topics
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.operator_cases import (
    ALERT,
    BAD_CASES,
    CONFIRM,
    MAX_TS_S,
    MIN_TS_S,
    Seeded,
    call,
    drop_postgres,
    eventlog_row,
    fresh_postgres,
    insert_rows,
    seed_eventlog,
)
from trigger_service.operations import _guard
from trigger_service.operator_validation import MAX_ROW_ID, PageRequest, RunsQuery, encode_page_token
from trigger_service.runs import RunsReader
from trigger_service.server import create_server

pytestmark = pytest.mark.slow
DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
OK, INVALID = grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT


@dataclass
class Ops:
    channel: grpc.Channel
    seeded: Seeded
    database_url: str


def trigger_settings(kafka_bootstrap: str, redis_url: str, database_url: str, var: Path) -> Settings:
    topic = f"test.ops.{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, {topic: 1})
    return Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        database_url=database_url,
        var_dir=var,
        jobs_topic=topic,
        produce_timeout_s=10,
        rate_limit_per_s=0,
    )


@pytest.fixture(scope="module", params=DATABASES)
def ops(request, kafka_bootstrap, redis_url, postgres_admin_url, tmp_path_factory) -> Iterator[Ops]:
    """A trigger whose EventLog (PostgreSQL or SQLite) holds 5 dead letters and a success."""
    var = tmp_path_factory.mktemp("ops")
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres(postgres_admin_url))
        else:
            url = f"sqlite:///{var}/eventlog.db"
        seeded = seed_eventlog(url)
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
        server = create_server(trigger_settings(kafka_bootstrap, redis_url, url, var), "127.0.0.1:0")
        server.start()
        stack.callback(server.stop, 1.0)
        channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
        yield Ops(channel, seeded, url)


def loud_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(("rpc", "make", "field"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_invalid_argument_naming_the_field(ops: Ops, caplog, rpc, make, field) -> None:
    caplog.set_level(logging.INFO)
    answer = call(ops.channel, rpc, make())
    assert answer.code == INVALID, f"{rpc} answered {answer.code.name}: {answer.details}"
    fields = [v.field for v in answer.violations()]
    assert field in fields, f"no violation of {field}: {fields}"
    assert all(v.description for v in answer.violations())
    assert loud_records(caplog) == [], "bad input logged a warning or an error"


def _filter_between(
    since_s: int, since_ns: int, until_s: int, until_ns: int, **fields
) -> pb.DeadLetterFilter:
    f = pb.DeadLetterFilter(**fields)
    f.since.seconds, f.since.nanos = since_s, since_ns
    f.until.seconds, f.until.nanos = until_s, until_ns
    return f


def listed(ops: Ops, request: pb.ListDeadLettersRequest) -> list[str]:
    answer = call(ops.channel, "ListDeadLetters", request)
    assert answer.code == OK, f"{answer.code.name}: {answer.details}"
    return [d.run.job_id for d in answer.response.dead_letters]


def test_the_edges_of_what_is_allowed_are_answered(ops: Ops) -> None:
    dead = ops.seeded.dead_job_ids
    widest = _filter_between(MIN_TS_S, 0, MAX_TS_S, 999_999_999)
    assert listed(ops, pb.ListDeadLettersRequest(filter=widest, page_size=500)) == dead
    assert (
        listed(ops, pb.ListDeadLettersRequest(filter=_filter_between(MAX_TS_S, 999_999_999, MAX_TS_S, 0)))
        == []
    )
    assert listed(ops, pb.ListDeadLettersRequest(filter=_filter_between(MIN_TS_S, 0, MIN_TS_S, 1))) == []
    assert listed(ops, pb.ListDeadLettersRequest(page_token=encode_page_token(MAX_ROW_ID))) == dead
    assert listed(ops, pb.ListDeadLettersRequest(page_token=encode_page_token(1))) == []
    every_type = pb.DeadLetterFilter(automation_types=[t for t in pb.AutomationType.values() if t])
    assert listed(ops, pb.ListDeadLettersRequest(filter=every_type)) == dead
    twice = pb.DeadLetterFilter(automation_types=[CONFIRM, CONFIRM], error_classes=["http_4xx"] * 32)
    assert listed(ops, pb.ListDeadLettersRequest(filter=twice)) == dead
    assert listed(ops, pb.ListDeadLettersRequest(filter=pb.DeadLetterFilter(automation_types=[ALERT]))) == []
    one = pb.DeadLetterFilter(booking_id=ops.seeded.booking_id, error_classes=["x" * 64, "http_4xx"])
    assert listed(ops, pb.ListDeadLettersRequest(filter=one)) == [dead[-1]]

    runs = call(
        ops.channel, "GetAutomationRuns", pb.GetAutomationRunsRequest(booking_id="b" * 64, page_size=500)
    )
    assert runs.code == OK and list(runs.response.runs) == []
    by_job = call(ops.channel, "GetAutomationRuns", pb.GetAutomationRunsRequest(job_id=ops.seeded.ok_job_id))
    assert by_job.code == OK and [r.status for r in by_job.response.runs] == ["succeeded"]
    dry = call(
        ops.channel,
        "ReplayDeadLetters",
        pb.ReplayDeadLettersRequest(filter=widest, dry_run=True, limit=10**9),
    )
    assert dry.code == OK and [r.original_job_id for r in dry.response.replayed] == dead[::-1]  # oldest first
    cancel = pb.CancelAutomationsRequest(
        booking_id="b" * 64, automation_types=[t for t in pb.AutomationType.values() if t]
    )
    assert call(ops.channel, "CancelAutomations", cancel).code == OK


def test_pages_walk_every_dead_letter_once(ops: Ops) -> None:
    seen, token = [], ""
    for _ in range(10):
        answer = call(
            ops.channel, "ListDeadLetters", pb.ListDeadLettersRequest(page_size=2, page_token=token)
        )
        assert answer.code == OK
        seen += [d.run.job_id for d in answer.response.dead_letters]
        token = answer.response.next_page_token
        if not token:
            break
    assert seen == ops.seeded.dead_job_ids


def test_pages_of_large_rows_are_cut_to_fit_a_message(ops: Ops) -> None:
    """300 rows of bookings with long notes (~16 KB each as runs) would not fit the 4 MiB message limit:
    the page stops at MAX_PAGE_BYTES and its token goes on from there."""
    booking, at = f"big-{uuid.uuid4().hex[:8]}", datetime.now(UTC)
    row = eventlog_row(booking, dead=False, at=at, notes="🐕" * 2000)
    insert_rows(ops.database_url, [{**row, "idempotency_key": f"{booking}:{i}"} for i in range(300)])
    seen, pages, token = [], 0, ""
    while pages < 20:
        request = pb.GetAutomationRunsRequest(booking_id=booking, page_size=500, page_token=token)
        answer = call(ops.channel, "GetAutomationRuns", request)
        assert answer.code == OK, f"{answer.code.name}: {answer.details}"
        assert answer.response.ByteSize() <= MAX_PAGE_BYTES + 64 * 1024
        seen += [r.id for r in answer.response.runs]
        pages, token = pages + 1, answer.response.next_page_token
        if not token:
            break
    assert pages >= 2 and len(seen) == len(set(seen)) == 300 and seen == sorted(seen, reverse=True)


@pytest.fixture(params=DATABASES)
def outage(request, kafka_bootstrap, redis_db_url, postgres_admin_url, tmp_path) -> Iterator[grpc.Channel]:
    """A trigger whose database is gone: PostgreSQL's dropped after the trigger read from it, SQLite's
    path a folder (the file cannot be opened)."""
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres(postgres_admin_url))
            seed_eventlog(url, dead=1)
        else:
            (tmp_path / "db").mkdir()
            url = f"sqlite:///{tmp_path}/db"
        server = create_server(trigger_settings(kafka_bootstrap, redis_db_url, url, tmp_path), "127.0.0.1:0")
        server.start()
        stack.callback(server.stop, 1.0)
        channel = stack.enter_context(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
        if request.param == "postgres":
            assert call(channel, "ListDeadLetters", pb.ListDeadLettersRequest()).code == OK
            drop_postgres(postgres_admin_url, url.rsplit("/", 1)[-1])
        yield channel


def test_a_database_outage_is_unavailable_and_bad_input_still_invalid(outage: grpc.Channel, caplog) -> None:
    valid = [
        ("GetAutomationRuns", pb.GetAutomationRunsRequest(booking_id="b-1")),
        ("ListDeadLetters", pb.ListDeadLettersRequest()),
        ("ReplayDeadLetters", pb.ReplayDeadLettersRequest(dry_run=True)),
        ("ReplayDeadLetters", pb.ReplayDeadLettersRequest()),
    ]
    for rpc, request in valid:
        answer = call(outage, rpc, request)
        assert answer.code == grpc.StatusCode.UNAVAILABLE, f"{rpc}: {answer.code.name} {answer.details}"
        assert "retry" in answer.details
    assert any("EventLog database unavailable" in r.getMessage() for r in caplog.records)
    caplog.clear()
    for _, rpc, make, field in BAD_CASES:
        answer = call(outage, rpc, make())
        assert answer.code == INVALID and field in [v.field for v in answer.violations()], rpc
    assert loud_records(caplog) == []


class _Aborted(Exception):
    pass


class RecordingContext:
    """What ``context.abort`` is given (the real one raises too)."""

    def __init__(self) -> None:
        self.aborted: tuple[grpc.StatusCode, str] | None = None

    def abort(self, code: grpc.StatusCode, details: str) -> None:
        self.aborted = (code, details)
        raise _Aborted


def test_values_the_database_refuses_are_internal_not_unavailable(ops: Ops, caplog) -> None:
    """Past validation (called directly here), what the database or its driver refuses, NUL in text on
    PostgreSQL (DataError) or an id beyond 64 bits on SQLite (not bindable), is INTERNAL with an ERROR
    line (a bug of ours, no retry helps), not UNAVAILABLE."""
    if ops.database_url.startswith("postgresql"):
        query = RunsQuery("booking_id", "b\x00", PageRequest(10, None))
    else:
        query = RunsQuery("booking_id", "b", PageRequest(10, 2**70))
    engine = make_engine(ops.database_url)
    try:
        reader, context = RunsReader(make_session_factory(engine)), RecordingContext()
        with pytest.raises(_Aborted):
            _guard(context, lambda: reader.runs(query))
    finally:
        engine.dispose()
    assert context.aborted is not None and context.aborted[0] == grpc.StatusCode.INTERNAL
    assert [r.levelname for r in caplog.records if r.name == "trigger_service.operations"] == ["ERROR"]
