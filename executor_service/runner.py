"""Runs one automation job: render its message, send it, and describe the run as an EventLog row."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict

from executor_service import metrics
from executor_service.automations import Contact, render
from executor_service.channels import Channel
from shared.db.models import EventStatus
from shared.errors import AutomationError
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where a job's Kafka message was read from."""

    topic: str
    partition: int
    offset: int


class JobRunner:
    def __init__(self, channel: Channel, *, business_name: str, owner: Contact) -> None:
        self._channel = channel
        self._business_name = business_name
        self._owner = owner

    def run(self, job: pb.AutomationJob, source: Source) -> dict[str, Any]:
        """Execute ``job`` once; never raises for a job's own failure, which the row records."""
        started_at, started = datetime.now(UTC), time.perf_counter()
        outputs: dict[str, Any] | None = None
        error: str | None = None
        try:
            message = render(job.request, business_name=self._business_name, owner=self._owner)
            response = self._channel.send(message, job_id=job.job_id, idempotency_key=job.idempotency_key)
            outputs = {"subject": message.subject, "body": message.body, "channel_response": response}
            status = EventStatus.SUCCEEDED
        except AutomationError as exc:
            status, error = EventStatus.FAILED, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug must not stop the pipeline; the row keeps the evidence
            log.exception("job crashed", extra={"job_id": job.job_id})
            status, error = EventStatus.FAILED, f"{type(exc).__name__}: {exc}"
        row = event_row(job, source, status, started_at, time.perf_counter() - started, outputs, error)
        self._observe(row, time.perf_counter() - started)
        return row

    def skipped(self, job: pb.AutomationJob, source: Source) -> dict[str, Any]:
        """The row of a job whose idempotency key already ran."""
        row = event_row(job, source, EventStatus.SKIPPED_DUPLICATE, datetime.now(UTC), 0.0, None, None)
        metrics.DEDUP_SKIPS.labels(row["automation_type"]).inc()
        self._observe(row, 0.0)
        return row

    @staticmethod
    def _observe(row: dict[str, Any], duration_s: float) -> None:
        metrics.JOBS.labels(row["automation_type"], row["status"]).inc()
        if row["status"] != EventStatus.SKIPPED_DUPLICATE:
            metrics.JOB_DURATION.labels(row["automation_type"]).observe(duration_s)
        log.info(
            "job run",
            extra={
                "job_id": row["job_id"],
                "attempt": row["attempt"],
                "status": row["status"],
                "error": row["error"],
            },
        )


def event_row(
    job: pb.AutomationJob,
    source: Source,
    status: str,
    started_at: datetime,
    duration_s: float,
    outputs: dict[str, Any] | None,
    error: str | None,
) -> dict[str, Any]:
    request = job.request
    return {
        "job_id": job.job_id,
        "idempotency_key": job.idempotency_key,
        "automation_type": type_name(request.automation_type),
        "recipient": recipient_name(request.recipient),
        "booking_id": request.booking.id,
        "status": status,
        "attempt": job.attempt,
        "inputs": MessageToDict(request, preserving_proto_field_name=True),
        "outputs": outputs,
        "error": error,
        "started_at": started_at,
        "finished_at": datetime.now(UTC),
        "duration_ms": duration_s * 1000.0,
        "kafka_topic": source.topic,
        "kafka_partition": source.partition,
        "kafka_offset": source.offset,
    }
