"""Reading the EventLog for operators: a job's, key's or booking's runs, and the dead letters.

Both lists are newest first with keyset pagination: the page token is the last row id seen, so pages
stay stable while new rows arrive. Dead letters are the EventLog rows ``dead_lettered``; one replayed
already has a ``replayed`` row for its job id (written by replay.py) and is left out unless asked for.
(An undecodable message is dead-lettered without an EventLog row: it is in the dead-letter topic only.)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from google.protobuf import struct_pb2
from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.db.models import EventLog, EventStatus
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.validation import Violation

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class BadQuery(ValueError):
    """A request whose selector, page size or token is not usable."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


@dataclass(frozen=True)
class Page:
    rows: list[EventLog]
    next_token: str


def page_size(requested: int) -> int:
    if requested < 0 or requested > MAX_PAGE_SIZE:
        raise BadQuery([Violation("page_size", f"must be 0..{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})")])
    return requested or DEFAULT_PAGE_SIZE


def encode_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode()


def decode_token(token: str) -> int | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if text.startswith("id:"):
            return int(text[3:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BadQuery([Violation("page_token", "is not a token this service issued")])


def dead_letter_query(f: pb.DeadLetterFilter) -> Select:
    """The dead-lettered rows matching ``f`` (no order, no page)."""
    query = select(EventLog).where(EventLog.status == EventStatus.DEAD_LETTERED)
    if f.automation_types:
        query = query.where(EventLog.automation_type.in_([type_name(t) for t in f.automation_types]))
    if f.error_classes:
        query = query.where(EventLog.error_class.in_(list(f.error_classes)))
    if f.booking_id:
        query = query.where(EventLog.booking_id == f.booking_id)
    if f.HasField("since"):
        query = query.where(EventLog.finished_at >= f.since.ToDatetime(tzinfo=UTC))
    if f.HasField("until"):
        query = query.where(EventLog.finished_at < f.until.ToDatetime(tzinfo=UTC))
    if not f.include_replayed:
        replayed = aliased(EventLog)
        query = query.where(
            ~exists().where(and_(replayed.status == EventStatus.REPLAYED, replayed.job_id == EventLog.job_id))
        )
    return query


class RunsReader:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def runs(self, request: pb.GetAutomationRunsRequest) -> Page:
        selector = request.WhichOneof("selector")
        value = getattr(request, selector) if selector else ""
        if not value:
            raise BadQuery([Violation("selector", "give one of job_id, idempotency_key or booking_id")])
        column = {"job_id": EventLog.job_id, "idempotency_key": EventLog.idempotency_key}.get(
            selector, EventLog.booking_id
        )
        return self._page(select(EventLog).where(column == value), request.page_size, request.page_token)

    def dead_letters(self, request: pb.ListDeadLettersRequest) -> tuple[Page, dict[str, str]]:
        """A page of dead letters, and job id -> the job each was replayed as (for those replayed)."""
        page = self._page(dead_letter_query(request.filter), request.page_size, request.page_token)
        return page, self.replayed_as([r.job_id for r in page.rows])

    def replayed_as(self, job_ids: Sequence[str]) -> dict[str, str]:
        if not job_ids:
            return {}
        query = select(EventLog.job_id, EventLog.outputs).where(
            EventLog.status == EventStatus.REPLAYED, EventLog.job_id.in_(list(job_ids))
        )
        with self._sessions() as session:
            return {
                job_id: (out or {}).get("replayed_as_job_id", "") for job_id, out in session.execute(query)
            }

    def _page(self, query: Select, requested_size: int, token: str) -> Page:
        size, before = page_size(requested_size), decode_token(token)
        if before is not None:
            query = query.where(EventLog.id < before)
        with self._sessions() as session:
            rows = list(session.scalars(query.order_by(EventLog.id.desc()).limit(size + 1)))
        more = len(rows) > size
        rows = rows[:size]
        return Page(rows, encode_token(rows[-1].id) if more else "")


def to_run(row: EventLog) -> pb.AutomationRun:
    run = pb.AutomationRun(
        id=row.id,
        job_id=row.job_id,
        idempotency_key=row.idempotency_key,
        automation_type=row.automation_type,
        recipient=row.recipient,
        booking_id=row.booking_id,
        status=row.status,
        attempt=row.attempt,
        duration_ms=row.duration_ms,
        error=row.error or "",
        error_class=row.error_class or "",
        replay_of=row.replay_of or "",
        kafka_topic=row.kafka_topic,
        kafka_partition=row.kafka_partition,
        kafka_offset=row.kafka_offset,
    )
    run.started_at.FromDatetime(_aware(row.started_at))
    run.finished_at.FromDatetime(_aware(row.finished_at))
    run.inputs.CopyFrom(_struct(row.inputs))
    if row.outputs is not None:
        run.outputs.CopyFrom(_struct(row.outputs))
    return run


def _struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def _aware(value):
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone
