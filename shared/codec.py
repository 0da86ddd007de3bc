"""The job codec: AutomationJob protobuf <-> Kafka message value and headers."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from shared import constants
from shared.errors import PoisonMessage
from shared.names import type_name
from shared.proto.automation.v1 import automation_pb2 as pb

Headers = list[tuple[str, bytes]]


def encode_job(job: pb.AutomationJob) -> tuple[bytes, bytes, Headers]:
    """Return (key, value, headers) for producing ``job``; the key is the booking id."""
    headers = [
        (constants.HEADER_JOB_ID, job.job_id.encode()),
        (constants.HEADER_IDEMPOTENCY_KEY, job.idempotency_key.encode()),
        (constants.HEADER_AUTOMATION_TYPE, type_name(job.request.automation_type).encode()),
        (constants.HEADER_ATTEMPT, str(job.attempt).encode()),
        (constants.HEADER_CONTENT_TYPE, constants.JOB_CONTENT_TYPE),
    ]
    return job.request.booking.id.encode(), job.SerializeToString(), headers


def decode_job(value: bytes | None) -> pb.AutomationJob:
    """Parse a message value; raise PoisonMessage when it is not a usable job."""
    if not value:
        raise PoisonMessage("empty message value")
    job = pb.AutomationJob()
    try:
        job.ParseFromString(value)
    except DecodeError as exc:
        raise PoisonMessage(f"undecodable job payload: {exc}") from exc
    if not job.job_id or not job.idempotency_key or not job.request.booking.id:
        raise PoisonMessage("job payload lacks job_id, idempotency_key or booking id")
    return job
