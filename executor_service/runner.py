"""Runs one automation job: render its message and send it. The run is described by a JobRun whose
``outcome`` says how it ended; what a failed one becomes (retry, dead letter) is decided in onward.py."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from confluent_kafka import Message

from executor_service import metrics
from executor_service.automations import render
from executor_service.channel_registry import ChannelRegistry
from executor_service.failures import Failure, classify
from shared.automation_settings import AutomationSettings
from shared.codec import read_traceparent
from shared.db.event_row import EventRow
from shared.db.event_status import EventStatus
from shared.kafka_message import header_pairs, offset_of, partition_of, topic_of
from shared.names import recipient_name, type_name
from shared.pii import mask_email, mask_phone, redact_text
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto_dict import to_dict

log = logging.getLogger(__name__)


class RunOutcome(StrEnum):
    """How a job's turn in a batch ended."""

    SENT = "sent"  # delivered now
    RECOVERED = "recovered"  # delivered before a crash, success row not committed: recorded, not re-sent
    DUPLICATE = "duplicate"  # its idempotency key already succeeded: not run
    ENDED = "ended"  # ended without sending (cancelled, superseded, disabled, late...; see checks.py)
    FAILED = "failed"  # the attempt failed (``failure`` says why); retried or dead-lettered (onward.py)
    DEFERRED = "deferred"  # not due yet: on to a delay topic
    PAUSED = "paused"  # held back by a pause: on to the re-check delay tier, unchanged (pauses.py)
    THROTTLED = "throttled"  # over its channel's rate limit: back through the delay tiers (no attempt)


@dataclass
class JobRun:
    """One attempt at a job, and the Kafka message it came from."""

    job: pb.AutomationJob
    msg: Message
    started_at: datetime
    outcome: RunOutcome
    duration_s: float = 0.0
    outputs: dict[str, Any] | None = None
    failure: Failure | None = None  # set when FAILED
    end_status: str | None = None  # set when ENDED: its EventLog status (cancelled, superseded...)
    throttled_s: float | None = None  # set when THROTTLED: back in this long

    @property
    def automation_type(self) -> str:
        return type_name(self.job.request.automation_type)

    @property
    def delivered(self) -> bool:
        """The channel delivered it (now, or before a crash)."""
        return self.outcome in (RunOutcome.SENT, RunOutcome.RECOVERED)


class JobRunner:
    def __init__(
        self, channels: ChannelRegistry, automations: AutomationSettings, *, redact_contacts: bool = False
    ) -> None:
        self._channels = channels
        self._automations = automations
        # AUTOMATION_EVENTLOG_REDACT_CONTACTS: pass it to event_row() for the rows of these runs.
        self.redact_contacts = redact_contacts

    def run(
        self,
        job: pb.AutomationJob,
        msg: Message,
        reserve: Callable[[], None],
        unreserve: Callable[[], None],
    ) -> JobRun:
        """Execute ``job`` once; a failure of the job itself is recorded in the run, never raised.

        ``reserve()`` is called right before the send, once the message is rendered (the send slot of
        executor_service/sent_marks.py is held for the send, not for the rendering); ``unreserve()``
        when the send then fails. The wait in ``reserve()`` is not part of the run's duration."""
        run = JobRun(job, msg, datetime.now(UTC), RunOutcome.SENT)
        started = time.perf_counter()
        reserved, waited_s = False, 0.0
        try:
            message = render(job.request, self._automations)
            spec = self._automations.recipient(message.automation_type, message.recipient)
            channel = self._channels.get(spec.channel if spec is not None else "default")
            if job.HasField("due_at"):
                lateness_s = time.time() - job.due_at.ToMilliseconds() / 1000
                metrics.SEND_LATENESS.labels(run.automation_type).observe(max(lateness_s, 0.0))
            waiting = time.perf_counter()
            reserve()
            reserved, waited_s = True, time.perf_counter() - waiting
            response = channel.send(message, job_id=job.job_id, idempotency_key=job.idempotency_key)
            run.outputs = {"subject": message.subject, "body": message.body, "channel_response": response}
        except Exception as exc:  # classified: transient ones are retried, the rest dead-lettered
            if reserved:
                unreserve()
            run.outcome, run.failure = RunOutcome.FAILED, classify(exc)
            if run.failure.error_class == "internal":
                log.exception("job crashed", extra={"job_id": job.job_id, "attempt": job.attempt})
        run.duration_s = time.perf_counter() - started - waited_s
        metrics.JOB_DURATION.labels(run.automation_type).observe(run.duration_s)
        return run

    @staticmethod
    def ended(job: pb.AutomationJob, msg: Message, status: str, reason: str) -> JobRun:
        """The run of a job that ends without sending (cancelled, superseded, disabled, late...)."""
        return JobRun(
            job, msg, datetime.now(UTC), RunOutcome.ENDED, outputs={"reason": reason}, end_status=status
        )

    def channel_of(self, job: pb.AutomationJob) -> str:
        """The name of the channel ``job`` goes out on ("default" resolved)."""
        request = job.request
        spec = self._automations.recipient(
            type_name(request.automation_type), recipient_name(request.recipient)
        )
        return self._channels.resolve(spec.channel if spec is not None else "default")

    @staticmethod
    def throttled(job: pb.AutomationJob, msg: Message, wait_s: float) -> JobRun:
        """The run of a job held back by its channel's rate limit: deferred, neither failed nor an attempt."""
        return JobRun(job, msg, datetime.now(UTC), RunOutcome.THROTTLED, throttled_s=wait_s)

    @staticmethod
    def deferred(job: pb.AutomationJob, msg: Message, delay_topic: str) -> JobRun:
        """The run of a job not due yet, on its way to ``delay_topic``."""
        outputs = {"due_at": job.due_at.ToDatetime(tzinfo=UTC).isoformat(), "delay_topic": delay_topic}
        return JobRun(job, msg, datetime.now(UTC), RunOutcome.DEFERRED, outputs=outputs)

    @staticmethod
    def duplicate(job: pb.AutomationJob, msg: Message) -> JobRun:
        """The run of a job whose idempotency key already succeeded."""
        return JobRun(job, msg, datetime.now(UTC), RunOutcome.DUPLICATE)

    @staticmethod
    def recovered(job: pb.AutomationJob, msg: Message, outputs: dict[str, Any] | None) -> JobRun:
        """A job delivered before a crash whose success row never committed: its success, not re-sent."""
        return JobRun(
            job, msg, datetime.now(UTC), RunOutcome.RECOVERED, outputs={**(outputs or {}), "recovered": True}
        )


def event_row(run: JobRun, status: str, *, redact_contacts: bool = False) -> EventRow:
    """The EventLog row of ``run`` ending in ``status``: inputs = the full request (contact details
    included), outputs = the rendered message and the channel's answer (or why nothing was sent).

    ``redact_contacts`` (AUTOMATION_EVENTLOG_REDACT_CONTACTS) stores the inputs with contact details
    masked (:func:`redacted_inputs`), except in ``dead_lettered`` rows: that job was never delivered and
    ReplayDeadLetters re-sends it from these inputs."""
    job, request = run.job, run.job.request
    redact = redact_contacts and status != EventStatus.DEAD_LETTERED
    return EventRow(
        job_id=job.job_id,
        idempotency_key=job.idempotency_key,
        automation_type=type_name(request.automation_type),
        recipient=recipient_name(request.recipient),
        booking_id=request.booking.id,
        status=status,
        attempt=job.attempt,
        inputs=redacted_inputs(request) if redact else to_dict(request),
        outputs=run.outputs,
        error=run.failure.message if run.failure else None,
        error_class=run.failure.error_class if run.failure else None,
        replay_of=job.replay_of or None,
        traceparent=read_traceparent(header_pairs(run.msg)),
        started_at=run.started_at,
        finished_at=datetime.now(UTC),
        duration_ms=run.duration_s * 1000.0,
        kafka_topic=topic_of(run.msg),
        kafka_partition=partition_of(run.msg),
        kafka_offset=offset_of(run.msg),
    )


def redacted_inputs(request: pb.EnqueueAutomationRequest) -> dict[str, Any]:
    """The request as EventLog inputs with the client's phone and e-mail and the sitter's phone masked
    (shared/pii.py), and any phone number or e-mail address in the booking's notes."""
    inputs = to_dict(request)
    booking = inputs.get("booking", {})
    client, sitter = booking.get("client", {}), booking.get("sitter", {})
    if client.get("phone"):
        client["phone"] = mask_phone(client["phone"])
    if client.get("email"):
        client["email"] = mask_email(client["email"])
    if sitter.get("phone"):
        sitter["phone"] = mask_phone(sitter["phone"])
    if booking.get("notes"):
        booking["notes"] = redact_text(booking["notes"])
    return inputs
