"""What the benchmarks send: unique valid EnqueueAutomation requests and AutomationJob messages."""

from __future__ import annotations

import uuid

from confluent_kafka import Producer

from automationctl.demo_bookings import demo_request
from shared.codec import encode_job
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.vocabulary import default_idempotency_key

# Owner alerts for new bookings are sent at once, night or day (``quiet_hours = false`` in the shipped
# shared/automations.toml): the bench measures immediate sends whatever the hour. A client recipient
# would be deferred out of quiet hours (21:00-08:00 in the booking's zone) part of the day.
AUTOMATION_TYPE = pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT
RECIPIENT = pb.RECIPIENT_OWNER


def request_template(booking_id: str) -> pb.EnqueueAutomationRequest:
    return demo_request(booking_id, AUTOMATION_TYPE, RECIPIENT)


class RequestFactory:
    """Serialized requests for bookings ``<prefix>-<n>``: each one a new idempotency key, never a
    duplicate. Serializing one template keeps the load generator cheap (~10 µs a request)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._template = request_template(f"{prefix}-0")

    def serialized(self, n: int) -> bytes:
        self._template.booking.id = f"{self._prefix}-{n}"
        return self._template.SerializeToString()

    def batch(self, first: int, count: int) -> bytes:
        """An EnqueueAutomationsRequest of ``count`` requests numbered from ``first``, serialized."""
        batch = pb.EnqueueAutomationsRequest()
        for n in range(first, first + count):
            self._template.booking.id = f"{self._prefix}-{n}"
            batch.requests.append(self._template)
        return batch.SerializeToString()


def produce_jobs(bootstrap: str, topic: str, count: int, prefix: str, jobs_per_booking: int = 4) -> None:
    """Produce ``count`` jobs straight to ``topic`` as the trigger would (key = booking id), over
    ``count / jobs_per_booking`` bookings with versions 1..jobs_per_booking; wait for every ack."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4", "acks": "all"}
    )
    template = request_template(f"{prefix}-0")
    failures: list[str] = []

    def on_delivery(err, _msg) -> None:
        if err is not None:
            failures.append(err.str())

    for n in range(count):
        request = pb.EnqueueAutomationRequest()
        request.CopyFrom(template)
        request.booking.id = f"{prefix}-{n // jobs_per_booking}"
        request.booking.version = n % jobs_per_booking + 1
        job = pb.AutomationJob(
            job_id=uuid.uuid4().hex,
            idempotency_key=default_idempotency_key(request),
            request=request,
            attempt=1,
        )
        job.enqueued_at.GetCurrentTime()
        key, value, headers = encode_job(job)
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"producing jobs: {remaining} not acknowledged, failures: {failures[:3]}")
