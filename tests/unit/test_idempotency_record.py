"""Record.dumps formats the stored JSON itself (speed); it must stay byte for byte what json.dumps wrote,
since the settle script compares a key's value with our pending value, and values written by older
triggers must still read back."""

from __future__ import annotations

import json

import pytest

from shared.kafka import Delivery
from trigger_service.idempotency import ClaimState, Record


def reference(record: Record) -> str:
    payload: dict[str, str | int] = {"state": record.state, "job_id": record.job_id}
    if (d := record.delivery) is not None:
        payload.update(topic=d.topic, partition=d.partition, offset=d.offset)
    return json.dumps(payload, separators=(",", ":"))


@pytest.mark.parametrize("job_id", ["0123456789abcdef0123456789abcdef", "job-1", 'q"uo\\te', "é\u2028\n\x00"])
@pytest.mark.parametrize(
    "delivery", [None, Delivery("automation.jobs", 0, 0), Delivery('t."x', 5, 2**62), Delivery("é", 1, -1)]
)
@pytest.mark.parametrize("state", list(ClaimState))
def test_dumps_is_what_json_dumps_wrote(state: ClaimState, job_id: str, delivery: Delivery | None) -> None:
    record = Record(state, job_id, delivery)
    assert record.dumps() == reference(record)
    assert Record.loads(record.dumps()) == record
