"""ReplayDeadLetters: send dead-lettered jobs again.

Each matching dead letter (oldest first) becomes a new job on the jobs topic: a new job id, attempt 1,
the same idempotency key and request (from its EventLog inputs), ``replay_of`` = the original job id,
due at once. Once the broker acknowledged it, the original gets a ``replayed`` EventLog row naming the
new job, which takes it out of the dead-letter list, so replaying twice does not enqueue twice. The
executor's dedup still applies: a key that succeeded meanwhile is skipped, not sent again. If the row
cannot be written after the produce, a later replay may enqueue the job again; dedup absorbs it.
Each acknowledged job rings the trigger's wake-up call (shared/doorbell.py), as an enqueue does.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.json_format import ParseDict, ParseError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.codec import encode_job
from shared.db.event_row import EventRow
from shared.db.event_status import EventStatus
from shared.db.eventlog_writer import EventLogWriter
from shared.db.models import EventLog
from shared.doorbell import Doorbell
from shared.errors import ProduceError
from shared.kafka import Delivery, JobProducer
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.tracing import child_of
from trigger_service.operator_validation import ReplayQuery
from trigger_service.runs import dead_letter_query

log = logging.getLogger(__name__)

_ACK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: list[pb.ReplayedJob]
    remaining: int


class Replayer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        writer: EventLogWriter,
        producer: JobProducer,
        jobs_topic: str,
        doorbell: Doorbell | None = None,
    ) -> None:
        self._sessions = sessions
        self._writer = writer
        self._producer = producer
        self._jobs_topic = jobs_topic
        self._doorbell = doorbell

    def replay(self, request: ReplayQuery, deadline: float, traceparent: str | None = None) -> ReplayOutcome:
        """Replay (or, on a dry run, list) up to ``request.limit`` matching dead letters before
        ``deadline`` (a monotonic time); the rest are counted in ``remaining``."""
        query = dead_letter_query(request.filter)
        with self._sessions() as session:
            matched = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = list(session.scalars(query.order_by(EventLog.id).limit(request.limit)))
        if request.dry_run:
            return ReplayOutcome([_replayed(row, "") for row in rows], matched - len(rows))
        interval_s = request.interval_s
        done: list[tuple[EventLog, pb.AutomationJob, Delivery]] = []
        for row in rows:
            if time.monotonic() + interval_s + 0.5 >= deadline:
                break
            job = _replay_job(row)
            if job is None:
                continue
            key, value, headers = encode_job(job, traceparent=child_of(traceparent))
            delivery = self._producer.produce(self._jobs_topic, key, value, headers)
            try:
                done.append((row, job, delivery.result(timeout=_ACK_TIMEOUT_S)))
            except (ProduceError, TimeoutError):
                log.warning("replay not acknowledged by the broker", extra={"job_id": row.job_id})
                break
            if self._doorbell is not None:
                self._doorbell.ring()
            if interval_s:
                time.sleep(interval_s)
        self._record(done)
        log.info("dead letters replayed", extra={"jobs": len(done), "matched": matched})
        return ReplayOutcome([_replayed(row, job.job_id) for row, job, _ in done], matched - len(done))

    def _record(self, done: list[tuple[EventLog, pb.AutomationJob, Delivery]]) -> None:
        now = datetime.now(UTC)
        rows = [
            EventRow.follow_up(
                row,
                status=EventStatus.REPLAYED,
                outputs={"replayed_as_job_id": job.job_id},
                at=now,
                replay_of=None,
                traceparent=None,
                kafka_topic=delivery.topic,
                kafka_partition=delivery.partition,
                kafka_offset=delivery.offset,
            )
            for row, job, delivery in done
        ]
        self._writer.write(rows)


def _replay_job(row: EventLog) -> pb.AutomationJob | None:
    try:
        request = ParseDict(row.inputs, pb.EnqueueAutomationRequest())
    except ParseError:
        log.error("dead letter's inputs no longer parse; not replayed", extra={"job_id": row.job_id})
        return None
    request.ClearField("due_at")  # a replay sends now
    job = pb.AutomationJob(
        job_id=uuid.uuid4().hex,
        idempotency_key=row.idempotency_key,
        request=request,
        attempt=1,
        replay_of=row.job_id,
    )
    # Not "now": a CancelAutomations issued after the failure must still stop the replay.
    started = row.started_at if row.started_at.tzinfo else row.started_at.replace(tzinfo=UTC)
    job.enqueued_at.FromDatetime(started)
    return job


def _replayed(row: EventLog, new_job_id: str) -> pb.ReplayedJob:
    return pb.ReplayedJob(
        original_job_id=row.job_id,
        new_job_id=new_job_id,
        idempotency_key=row.idempotency_key,
        automation_type=row.automation_type,
        booking_id=row.booking_id,
    )
