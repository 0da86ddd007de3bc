"""End to end on real parts: gRPC over TCP -> Kafka -> executor -> EventLog + a real HTTP receiver."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from devtools.embedded import free_port
from shared.codec import decode_job, encode_job
from shared.kafka import JobProducer, producer_config
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import eventlog_rows, running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow


def booking_id() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


def test_enqueue_reaches_topic_executor_eventlog_and_webhook(settings, read_topic, http_receiver):
    bid = booking_id()
    request = sample_request(bid, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT)
    with running_trigger(settings) as (stub, _), running_executor(settings):
        response = stub.EnqueueAutomation(request, timeout=10)

        assert not response.duplicate
        assert response.idempotency_key == f"bookingConfirmation:client:{bid}:1"
        assert response.topic == settings.jobs_topic and response.offset >= 0

        [msg] = read_topic(settings.jobs_topic, 1)
        assert msg.key() == bid.encode()
        assert (msg.partition(), msg.offset()) == (response.partition, response.offset)
        headers = dict(msg.headers())
        assert headers["idempotency-key"] == response.idempotency_key.encode()
        assert headers["automation-type"] == b"bookingConfirmation"
        assert headers["attempt"] == b"1"
        job = decode_job(msg.value())
        assert job.job_id == response.job_id and job.request == request

        [delivery] = http_receiver.wait_for(1, timeout_s=20)
        rows = wait_until(lambda: eventlog_rows(settings.sqlalchemy_url, job_id=response.job_id), what="row")

    assert delivery.headers["idempotency-key"] == response.idempotency_key
    assert delivery.body["job_id"] == response.job_id
    assert delivery.body["to"] == {"phone": "+14155550123", "email": "ana@example.com"}
    assert "Rex, Milo and Luna" in delivery.body["body"]
    [row] = rows
    assert row.status == "succeeded" and row.attempt == 1 and row.error is None
    assert (row.booking_id, row.automation_type, row.recipient) == (bid, "bookingConfirmation", "client")
    assert row.idempotency_key == response.idempotency_key
    assert row.inputs["booking"]["id"] == bid
    assert row.outputs["body"] == delivery.body["body"]
    assert row.outputs["channel_response"] == {"channel": "webhook", "http_status": 200}
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == (
        msg.topic(),
        msg.partition(),
        msg.offset(),
    )
    assert row.finished_at >= row.started_at and row.duration_ms >= 0


def test_duplicate_call_answers_first_job_and_produces_nothing(settings, read_topic, topic_size):
    request = sample_request(booking_id())
    with running_trigger(settings) as (stub, _):
        first = stub.EnqueueAutomation(request, timeout=10)
        second = stub.EnqueueAutomation(request, timeout=10)
        explicit = pb.EnqueueAutomationRequest()
        explicit.CopyFrom(request)
        explicit.idempotency_key = "caller-chosen-key-1"
        third = stub.EnqueueAutomation(explicit, timeout=10)
        fourth = stub.EnqueueAutomation(explicit, timeout=10)

    assert not first.duplicate and second.duplicate
    assert second.job_id == first.job_id
    assert (second.topic, second.partition, second.offset) == (first.topic, first.partition, first.offset)
    assert third.idempotency_key == "caller-chosen-key-1" and not third.duplicate
    assert fourth.duplicate and fourth.job_id == third.job_id
    assert topic_size(settings.jobs_topic) == 2
    messages = read_topic(settings.jobs_topic, 2)
    assert sorted(decode_job(m.value()).job_id for m in messages) == sorted([first.job_id, third.job_id])


def test_invalid_request_gets_field_violations_and_nothing_is_produced(settings, topic_size):
    request = sample_request(booking_id())
    request.booking.client.phone = "555-0123"
    request.booking.client.email = "not-an-email"
    request.booking.timezone = "Mars/Olympus"
    request.booking.end_at.CopyFrom(request.booking.start_at)
    with running_trigger(settings) as (stub, _), pytest.raises(grpc.RpcError) as raised:
        stub.EnqueueAutomation(request, timeout=10)

    err = raised.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    [details_bin] = [v for k, v in err.trailing_metadata() if k == "grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details_bin)
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    fields = {v.field for v in bad_request.field_violations}
    assert fields == {"booking.client.phone", "booking.client.email", "booking.timezone", "booking.end_at"}
    assert "555-0123" not in err.details() and "not-an-email" not in str(bad_request)
    assert topic_size(settings.jobs_topic) == 0


def test_send_time_long_past_is_refused_not_queued(settings, topic_size):
    request = sample_request(booking_id(), pb.AUTOMATION_TYPE_POST_VISIT_THANK_YOU, pb.RECIPIENT_CLIENT)
    request.booking.start_at.FromSeconds(int(time.time()) - 5 * 86400)
    request.booking.end_at.FromSeconds(int(time.time()) - 4 * 86400)
    with running_trigger(settings) as (stub, _), pytest.raises(grpc.RpcError) as raised:
        stub.EnqueueAutomation(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "booking.end_at" in raised.value.details()
    assert topic_size(settings.jobs_topic) == 0


def test_broker_down_gives_unavailable_within_deadline_and_keeps_the_key_free(settings, read_topic):
    down = settings.model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{free_port()}", "produce_delivery_timeout_s": 2.0}
    )
    request = sample_request(booking_id())
    with running_trigger(down) as (stub, _):
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as raised:
            stub.EnqueueAutomation(request, timeout=1.5)
        elapsed = time.monotonic() - started
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert elapsed < 1.5
        time.sleep(3.0)  # the undeliverable write times out (2 s) and releases its claim on the key

    with running_trigger(settings) as (stub, _):
        response = stub.EnqueueAutomation(request, timeout=10)
    assert not response.duplicate, "a failed produce must not burn the idempotency key"
    [msg] = read_topic(settings.jobs_topic, 1)
    assert decode_job(msg.value()).job_id == response.job_id


def test_redelivered_job_is_skipped_not_sent_twice(settings, http_receiver):
    """A job delivered again (after a crash, or twice in one batch) runs once; copies are skipped."""
    request = sample_request(booking_id())
    with running_trigger(settings) as (stub, _):
        response = stub.EnqueueAutomation(request, timeout=10)
    with running_executor(settings):
        http_receiver.wait_for(1, timeout_s=20)
        wait_until(lambda: eventlog_rows(settings.sqlalchemy_url, job_id=response.job_id), what="first row")

    # A new consumer group re-reads the topic from the start: a redelivery, in a later batch.
    again = settings.model_copy(update={"consumer_group": settings.consumer_group + "-again"})
    with running_executor(again):
        wait_until(
            lambda: len(eventlog_rows(settings.sqlalchemy_url, job_id=response.job_id)) == 2, what="2nd row"
        )

    # The same message twice in one batch.
    job = pb.AutomationJob(
        job_id=uuid.uuid4().hex, idempotency_key=f"twice-{uuid.uuid4().hex}", request=request
    )
    producer = JobProducer(producer_config(settings.kafka_bootstrap_servers, delivery_timeout_ms=10000))
    for _ in range(2):
        producer.produce(settings.jobs_topic, *encode_job(job)).result(timeout=10)
    producer.close(5)
    with running_executor(again):
        wait_until(
            lambda: len(eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id)) == 2, what="two rows"
        )

    assert len(http_receiver.requests) == 2, "one delivery per distinct idempotency key"
    first = [r.status for r in eventlog_rows(settings.sqlalchemy_url, job_id=response.job_id)]
    assert first == ["succeeded", "skipped_duplicate"]
    twice = [r.status for r in eventlog_rows(settings.sqlalchemy_url, job_id=job.job_id)]
    assert twice == ["succeeded", "skipped_duplicate"]
