"""EnqueueAutomations over gRPC on a real broker and Redis: a result per item, one bad item never
sinks the others, and `accepted` means broker-acknowledged."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.rpc import code_pb2, error_details_pb2
from pydantic import SecretStr

from devtools.embedded import free_port
from shared.codec import decode_job
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import running_trigger
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """The trigger writes no EventLog rows: one database is enough."""
    return sqlite_url


def bid() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def violations_of(status) -> list[str]:
    [detail] = status.details
    bad = error_details_pb2.BadRequest()
    assert detail.Unpack(bad)
    return [v.field for v in bad.field_violations]


def test_mixed_batch_gets_a_result_per_item_and_only_valid_jobs_are_produced(settings, read_topic):
    earlier = sample_request(bid())
    invalid = sample_request(bid())
    invalid.booking.client.phone = "not a phone"
    invalid.booking.timezone = "Mars/Olympus"
    unserved = sample_request(bid(), pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU, pb.RECIPIENT_OWNER)
    fresh_a, fresh_b = sample_request(bid()), sample_request(bid())
    batch = [fresh_a, invalid, earlier, unserved, fresh_b, fresh_a]

    with running_trigger(settings) as (stub, _):
        first = stub.EnqueueAutomation(earlier, timeout=10)
        response = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=10)

    results = list(response.results)
    assert len(results) == len(batch)
    kinds = [r.WhichOneof("result") for r in results]
    assert kinds == ["accepted", "error", "accepted", "error", "accepted", "accepted"]

    a, bad, dup, not_served, b, a_again = results
    assert bad.error.code == code_pb2.INVALID_ARGUMENT
    assert set(violations_of(bad.error)) == {"booking.client.phone", "booking.timezone"}
    assert not_served.error.code == code_pb2.INVALID_ARGUMENT
    assert violations_of(not_served.error) == ["recipient"]
    assert dup.accepted.duplicate and dup.accepted.job_id == first.job_id
    assert not a.accepted.duplicate and not b.accepted.duplicate
    assert a_again.accepted.duplicate and a_again.accepted.job_id == a.accepted.job_id

    messages = read_topic(settings.jobs_topic, 4, timeout_s=10)
    jobs = {decode_job(m.value()).job_id: m for m in messages}
    assert set(jobs) == {first.job_id, a.accepted.job_id, b.accepted.job_id}, "only new valid items"
    for item, request in ((a, fresh_a), (b, fresh_b)):
        msg = jobs[item.accepted.job_id]
        assert (msg.partition(), msg.offset()) == (item.accepted.partition, item.accepted.offset)
        assert msg.key() == request.booking.id.encode()
        assert decode_job(msg.value()).request == request


def test_full_batch_of_500_is_accepted_with_distinct_offsets(settings, topic_size):
    batch = [sample_request(bid()) for _ in range(500)]
    with running_trigger(settings) as (stub, _):
        response = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=15)
        again = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=15)

    assert all(r.WhichOneof("result") == "accepted" and not r.accepted.duplicate for r in response.results)
    positions = {(r.accepted.partition, r.accepted.offset) for r in response.results}
    assert len(positions) == 500
    assert all(r.accepted.duplicate for r in again.results), "a repeated batch produces nothing"
    assert [r.accepted.job_id for r in again.results] == [r.accepted.job_id for r in response.results]
    assert topic_size(settings.jobs_topic) == 500


def test_more_than_500_items_is_refused_as_a_whole(settings, topic_size):
    batch = [sample_request(bid()) for _ in range(501)]
    with running_trigger(settings) as (stub, _), pytest.raises(grpc.RpcError) as raised:
        stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "requests" in raised.value.details()
    assert topic_size(settings.jobs_topic) == 0


def test_empty_batch_answers_no_results(settings):
    with running_trigger(settings) as (stub, _):
        response = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(), timeout=10)
    assert list(response.results) == []


def test_broker_down_gives_unavailable_items_and_keeps_their_keys_free(settings, read_topic):
    down = settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}", "produce_delivery_timeout_s": 2.0}
    )
    batch = [sample_request(bid()) for _ in range(3)]
    invalid = sample_request(bid())
    invalid.booking.id = ""
    with running_trigger(down) as (stub, _):
        started = time.monotonic()
        response = stub.EnqueueAutomations(
            pb.EnqueueAutomationsRequest(requests=[*batch, invalid]), timeout=1.5
        )
        elapsed = time.monotonic() - started
        time.sleep(3.0)  # the undeliverable writes time out (2 s) and release their claims

    assert elapsed < 1.5
    codes = [r.error.code for r in response.results]
    assert codes == [code_pb2.UNAVAILABLE] * 3 + [code_pb2.INVALID_ARGUMENT]

    with running_trigger(settings) as (stub, _):
        retried = stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=batch), timeout=10)
    assert all(r.WhichOneof("result") == "accepted" and not r.accepted.duplicate for r in retried.results)
    assert len(read_topic(settings.jobs_topic, 3, timeout_s=10)) == 3


def test_idempotency_store_down_fails_the_call_and_writes_nothing(settings, topic_size):
    down = settings.model_copy(update={"redis_url": SecretStr(f"redis://127.0.0.1:{free_port()}/0")})
    with running_trigger(down) as (stub, _), pytest.raises(grpc.RpcError) as raised:
        stub.EnqueueAutomations(pb.EnqueueAutomationsRequest(requests=[sample_request(bid())]), timeout=10)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert topic_size(settings.jobs_topic) == 0
