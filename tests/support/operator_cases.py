"""For the tests of what the trigger answers bad input (tests/test_operator_input.py, tests/test_fuzz.py):
a module's own PostgreSQL database, seeded EventLog rows, one call helper for every RPC of
AutomationService, and the table of bad requests with the field each must be refused on."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy import create_engine, insert, make_url, text

from shared.db.event_status import EventStatus
from shared.db.migrate import upgrade
from shared.db.models import EventLog
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto_dict import to_dict
from tests.support.sample import sample_request

SERVICE = pb.DESCRIPTOR.services_by_name["AutomationService"]
RPCS = [method.name for method in SERVICE.methods]
# Statuses that tell a caller to retry or that hide a crash: never the answer to a request's content.
NEVER = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}
CONFIRM, ALERT = pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT
MIN_TS_S, MAX_TS_S = -62_135_596_800, 253_402_300_799  # google.protobuf.Timestamp's range


@contextmanager
def fresh_postgres(admin_url: str | None) -> Iterator[str]:
    """A new empty database ``t_<hex>`` on the test server (dropped afterwards); skips without one."""
    if admin_url is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no PostgreSQL on CI: set TEST_DATABASE_URL")
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        drop_postgres(admin_url, name)
    finally:
        admin.dispose()


def drop_postgres(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@dataclass(frozen=True)
class Seeded:
    dead_job_ids: list[str]  # newest first, as listed
    booking_id: str  # of the first dead letter
    ok_job_id: str


def seed_eventlog(url: str, dead: int = 5) -> Seeded:
    """Migrate ``url`` and write ``dead`` dead letters (error class http_4xx, one per booking, one
    minute apart) and one success, as the executor would."""
    upgrade(url)
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        eventlog_row(f"seed-{uuid.uuid4().hex[:8]}", dead=i < dead, at=now - timedelta(minutes=dead + 1 - i))
        for i in range(dead + 1)
    ]
    insert_rows(url, rows)
    dead_rows = rows[:dead]
    return Seeded([r["job_id"] for r in reversed(dead_rows)], dead_rows[0]["booking_id"], rows[-1]["job_id"])


def eventlog_row(booking: str, *, dead: bool, at: datetime, notes: str = "") -> dict:
    """A bookingConfirmation's EventLog row: dead-lettered (http_4xx) or succeeded."""
    request = sample_request(booking, CONFIRM, pb.RECIPIENT_CLIENT)
    request.booking.notes = notes
    return {
        "job_id": uuid.uuid4().hex,
        "idempotency_key": f"bookingConfirmation:client:{booking}:1",
        "automation_type": "bookingConfirmation",
        "recipient": "client",
        "booking_id": booking,
        "status": EventStatus.DEAD_LETTERED if dead else EventStatus.SUCCEEDED,
        "attempt": 1,
        "inputs": to_dict(request),
        "outputs": None if dead else {"body": notes},
        "error": "webhook answered HTTP 400" if dead else None,
        "error_class": "http_4xx" if dead else None,
        "replay_of": None,
        "traceparent": None,
        "started_at": at,
        "finished_at": at,
        "duration_ms": 1.0,
        "kafka_topic": "seed",
        "kafka_partition": 0,
        "kafka_offset": 0,
    }


def insert_rows(url: str, rows: list[dict]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(EventLog.__table__), rows)
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    status: status_pb2.Status | None  # the rich status of an error
    response: Message | None
    details: str = ""

    def violations(self) -> list[error_details_pb2.BadRequest.FieldViolation]:
        return field_violations(self.status)


def field_violations(status: status_pb2.Status | None) -> list[error_details_pb2.BadRequest.FieldViolation]:
    found = []
    for detail in status.details if status is not None else ():
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.extend(bad.field_violations)
    return found


def call(channel: grpc.Channel, rpc: str, request: Message | bytes, timeout_s: float = 15.0) -> Answer:
    """One unary call of ``rpc`` (raw bytes go out as they are)."""
    method = SERVICE.methods_by_name[rpc]
    response_type = pb.DESCRIPTOR.message_types_by_name[method.output_type.name]
    response_class = getattr(pb, response_type.name)
    stub = channel.unary_unary(
        f"/{SERVICE.full_name}/{rpc}",
        request_serializer=None if isinstance(request, bytes) else type(request).SerializeToString,
        response_deserializer=response_class.FromString,
    )
    try:
        return Answer(grpc.StatusCode.OK, None, stub(request, timeout=timeout_s))
    except grpc.RpcError as exc:
        return Answer(exc.code(), rpc_status.from_call(exc), None, exc.details() or "")


def _filter(**fields) -> pb.DeadLetterFilter:
    since, until = fields.pop("since", None), fields.pop("until", None)
    f = pb.DeadLetterFilter(**fields)
    if since is not None:
        f.since.seconds, f.since.nanos = since
    if until is not None:
        f.until.seconds, f.until.nanos = until
    return f


def _token(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode()


_LIST, _REPLAY = pb.ListDeadLettersRequest, pb.ReplayDeadLettersRequest
_RUNS, _CANCEL = pb.GetAutomationRunsRequest, pb.CancelAutomationsRequest
_HUGE = 100_000

# (case id, rpc, request factory, field the answer must name)
BAD_CASES: list[tuple[str, str, Callable[[], Message], str]] = [
    (
        "list since 2**62 s",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(since=(2**62, 0))),
        "filter.since",
    ),
    (
        "list since -2**62 s",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(since=(-(2**62), 0))),
        "filter.since",
    ),
    (
        "list until year 10000",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(until=(MAX_TS_S + 1, 0))),
        "filter.until",
    ),
    ("list since nanos -1", "ListDeadLetters", lambda: _LIST(filter=_filter(since=(0, -1))), "filter.since"),
    (
        "list until nanos 1e9",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(until=(0, 10**9))),
        "filter.until",
    ),
    (
        "list booking NUL",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(booking_id="b-1\x00")),
        "filter.booking_id",
    ),
    (
        "list class NUL",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(error_classes=["http\x00"])),
        "filter.error_classes[0]",
    ),
    (
        "list class too long",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(error_classes=["x" * 65])),
        "filter.error_classes[0]",
    ),
    (
        "list 100k classes",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(error_classes=["t"] * _HUGE)),
        "filter.error_classes",
    ),
    (
        "list 100k types",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(automation_types=[CONFIRM] * _HUGE)),
        "filter.automation_types",
    ),
    (
        "list unknown type",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(automation_types=[99])),
        "filter.automation_types[0]",
    ),
    (
        "list type 0",
        "ListDeadLetters",
        lambda: _LIST(filter=_filter(automation_types=[0])),
        "filter.automation_types[0]",
    ),
    ("list page size 501", "ListDeadLetters", lambda: _LIST(page_size=501), "page_size"),
    ("list page size -1", "ListDeadLetters", lambda: _LIST(page_size=-1), "page_size"),
    ("list token junk", "ListDeadLetters", lambda: _LIST(page_token="nope"), "page_token"),
    ("list token id 2**63", "ListDeadLetters", lambda: _LIST(page_token=_token(f"id:{2**63}")), "page_token"),
    ("list token id -1", "ListDeadLetters", lambda: _LIST(page_token=_token("id:-1")), "page_token"),
    ("list token id 0", "ListDeadLetters", lambda: _LIST(page_token=_token("id:0")), "page_token"),
    ("list token id 1e30", "ListDeadLetters", lambda: _LIST(page_token=_token(f"id:{10**30}")), "page_token"),
    ("list token NUL", "ListDeadLetters", lambda: _LIST(page_token="\x00"), "page_token"),
    ("list token huge", "ListDeadLetters", lambda: _LIST(page_token="A" * _HUGE), "page_token"),
    ("runs no selector", "GetAutomationRuns", lambda: _RUNS(), "selector"),
    ("runs booking NUL", "GetAutomationRuns", lambda: _RUNS(booking_id="b-1\x00"), "booking_id"),
    ("runs job NUL", "GetAutomationRuns", lambda: _RUNS(job_id="\x00"), "job_id"),
    ("runs key NUL", "GetAutomationRuns", lambda: _RUNS(idempotency_key="k\x00"), "idempotency_key"),
    ("runs key 201", "GetAutomationRuns", lambda: _RUNS(idempotency_key="k" * 201), "idempotency_key"),
    ("runs booking 100k", "GetAutomationRuns", lambda: _RUNS(booking_id="b" * _HUGE), "booking_id"),
    (
        "runs token id 2**63",
        "GetAutomationRuns",
        lambda: _RUNS(booking_id="b", page_token=_token(f"id:{2**63}")),
        "page_token",
    ),
    ("runs token junk", "GetAutomationRuns", lambda: _RUNS(booking_id="b", page_token="%%%"), "page_token"),
    ("runs page size 501", "GetAutomationRuns", lambda: _RUNS(booking_id="b", page_size=501), "page_size"),
    (
        "replay since 2**62 s",
        "ReplayDeadLetters",
        lambda: _REPLAY(filter=_filter(since=(2**62, 0))),
        "filter.since",
    ),
    (
        "replay until nanos -1",
        "ReplayDeadLetters",
        lambda: _REPLAY(filter=_filter(until=(0, -1))),
        "filter.until",
    ),
    (
        "replay booking NUL",
        "ReplayDeadLetters",
        lambda: _REPLAY(filter=_filter(booking_id="\x00")),
        "filter.booking_id",
    ),
    (
        "replay 100k types",
        "ReplayDeadLetters",
        lambda: _REPLAY(filter=_filter(automation_types=[CONFIRM] * _HUGE)),
        "filter.automation_types",
    ),
    ("replay limit -1", "ReplayDeadLetters", lambda: _REPLAY(limit=-1), "limit"),
    ("replay rate -1", "ReplayDeadLetters", lambda: _REPLAY(max_per_second=-1), "max_per_second"),
    ("replay rate NaN", "ReplayDeadLetters", lambda: _REPLAY(max_per_second=float("nan")), "max_per_second"),
    ("replay rate inf", "ReplayDeadLetters", lambda: _REPLAY(max_per_second=float("inf")), "max_per_second"),
    ("replay rate 5e-324", "ReplayDeadLetters", lambda: _REPLAY(max_per_second=5e-324), "max_per_second"),
    ("cancel no booking", "CancelAutomations", lambda: _CANCEL(), "booking_id"),
    ("cancel booking NUL", "CancelAutomations", lambda: _CANCEL(booking_id="b-1\x00"), "booking_id"),
    (
        "cancel unknown type",
        "CancelAutomations",
        lambda: _CANCEL(booking_id="b-1", automation_types=[99]),
        "automation_types[0]",
    ),
    (
        "cancel 100k types",
        "CancelAutomations",
        lambda: _CANCEL(booking_id="b-1", automation_types=[CONFIRM] * _HUGE),
        "automation_types",
    ),
    (
        "cancel 100k unknown types",
        "CancelAutomations",
        lambda: _CANCEL(booking_id="b-1", automation_types=[99] * _HUGE),
        "automation_types",
    ),
    ("enqueue empty", "EnqueueAutomation", lambda: pb.EnqueueAutomationRequest(), "automation_type"),
    ("enqueue booking NUL", "EnqueueAutomation", lambda: _nul_booking(), "booking.id"),
    (
        "batch 501 items",
        "EnqueueAutomations",
        lambda: pb.EnqueueAutomationsRequest(requests=[pb.EnqueueAutomationRequest()] * 501),
        "requests",
    ),
]


def _nul_booking() -> pb.EnqueueAutomationRequest:
    request = sample_request("b-1")
    request.booking.id = "b-1\x00"
    return request
