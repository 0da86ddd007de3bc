"""Reading the EventLog for operators: a job's, key's or booking's runs, and the dead letters.

Both lists are newest first with keyset pagination: the page token is the last row id seen, so pages
stay stable while new rows arrive. Dead letters are the EventLog rows ``dead_lettered``; one replayed
already has a ``replayed`` row for its job id (written by replay.py) and is left out unless asked for.
(An undecodable message is dead-lettered without an EventLog row: it is in the dead-letter topic only.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf import struct_pb2
from sqlalchemy import Select, and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from shared.constants import MAX_PAGE_BYTES
from shared.db.event_status import EventStatus
from shared.db.models import EventLog
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.operator_validation import DeadLetterQuery, PageRequest, RunsQuery, encode_page_token


@dataclass(frozen=True)
class Page:
    rows: list[EventLog]
    next_token: str


def dead_letter_query(f: DeadLetterQuery) -> Select:
    """The dead-lettered rows matching ``f`` (no order, no page)."""
    query = select(EventLog).where(EventLog.status == EventStatus.DEAD_LETTERED)
    if f.automation_types:
        query = query.where(EventLog.automation_type.in_(f.automation_types))
    if f.error_classes:
        query = query.where(EventLog.error_class.in_(f.error_classes))
    if f.booking_id:
        query = query.where(EventLog.booking_id == f.booking_id)
    if f.since is not None:
        query = query.where(EventLog.finished_at >= f.since)
    if f.until is not None:
        query = query.where(EventLog.finished_at < f.until)
    if not f.include_replayed:
        replayed = aliased(EventLog)
        query = query.where(
            ~exists().where(and_(replayed.status == EventStatus.REPLAYED, replayed.job_id == EventLog.job_id))
        )
    return query


class RunsReader:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def runs(self, query: RunsQuery) -> Page:
        column = getattr(EventLog, query.column)
        return self._page(select(EventLog).where(column == query.value), query.page)

    def dead_letters(self, f: DeadLetterQuery, page: PageRequest) -> tuple[Page, dict[str, str]]:
        """A page of dead letters, and job id -> the job each was replayed as (for those replayed)."""
        found = self._page(dead_letter_query(f), page)
        return found, self.replayed_as([r.job_id for r in found.rows])

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

    def _page(self, query: Select, page: PageRequest) -> Page:
        if page.before_id is not None:
            query = query.where(EventLog.id < page.before_id)
        with self._sessions() as session:
            rows = list(session.scalars(query.order_by(EventLog.id.desc()).limit(page.size + 1)))
        more = len(rows) > page.size
        rows = rows[: page.size]
        return Page(rows, encode_page_token(rows[-1].id) if more else "")


def to_runs(page: Page, max_bytes: int = MAX_PAGE_BYTES) -> tuple[list[pb.AutomationRun], str]:
    """The page's rows as runs and the token for the next page, cut short (the token then goes on after
    the last run kept) before the runs pass ``max_bytes`` on the wire; at least one run is kept."""
    runs: list[pb.AutomationRun] = []
    total = 0
    for row in page.rows:
        run = to_run(row)
        total += run.ByteSize() + 8  # with its tag and length, and room for a DeadLetter's wrapper
        if runs and total > max_bytes:
            return runs, encode_page_token(runs[-1].id)
        runs.append(run)
    return runs, page.next_token


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


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone
