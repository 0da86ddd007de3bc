"""W3C trace context from the gRPC call through Kafka, a retry and the dead-letter topic into the
EventLog rows, and the job/trace ids on log lines."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from shared import tracing
from shared.logs import JsonFormatter
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.retry import RetryPolicy
from shared.topics import dead_letter_topic, retry_topic
from tests.support.jobs import read_all
from tests.support.pipeline import running_executor, running_trigger, wait_rows
from tests.support.sample import sample_request

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (CALLER, True),
        (CALLER.encode(), True),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),  # all-zero trace id
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),  # all-zero span id
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", False),  # unknown version
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", False),  # upper case
        ("garbage", False),
        (None, False),
    ],
)
def test_parse(value, ok):
    assert (tracing.parse(value) is not None) == ok


def test_child_keeps_the_trace_and_makes_a_new_span():
    child = tracing.child_of(CALLER)
    assert tracing.trace_id(child) == TRACE_ID and child != CALLER and tracing.parse(child)
    assert tracing.parse(tracing.child_of("garbage")) is not None  # a new trace
    assert tracing.trace_id(tracing.new_traceparent()) != tracing.trace_id(tracing.new_traceparent())


def test_log_context_puts_fields_on_records_and_is_scoped(caplog):
    tracing.install_log_context()
    log = logging.getLogger("tests.tracing")
    with caplog.at_level(logging.INFO):
        with tracing.log_context(job_id="j1", attempt=2, trace_id=TRACE_ID, skip=None):
            log.info("inside")
        log.info("outside")
    inside, outside = (tracing.record_fields(r) for r in caplog.records[-2:])
    assert (inside["job_id"], inside["attempt"], inside["trace_id"]) == ("j1", 2, TRACE_ID)
    assert "skip" not in inside and "job_id" not in outside
    with tracing.log_context(job_id="from-context"):
        log.warning("both", extra={"job_id": "from-extra"})  # no "overwrite" error; extra wins
    assert tracing.record_fields(caplog.records[-1])["job_id"] == "from-extra"
    line = json.loads(JsonFormatter().format(caplog.records[-3]))  # the "inside" record, as shipped
    assert (line["msg"], line["job_id"], line["attempt"], line["trace_id"]) == ("inside", "j1", 2, TRACE_ID)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_traceparent_travels_from_the_call_through_retry_and_dead_letter_into_rows(
    settings, http_receiver, caplog
):
    tracing.install_log_context()
    http_receiver.respond_with([500])
    quick = settings.model_copy(
        update={"retry_policy": RetryPolicy(max_attempts=2, base_s=2.0, jitter_ratio=0.0)}
    )
    request = sample_request(
        f"b-{uuid.uuid4().hex[:8]}", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT
    )
    with (
        caplog.at_level(logging.INFO),
        caplog.at_level(logging.DEBUG, logger="trigger_service.servicer"),  # "job accepted" is DEBUG
        running_trigger(quick) as (stub, _),
        running_executor(quick),
    ):
        answer = stub.EnqueueAutomation(request, timeout=10, metadata=[("traceparent", CALLER)])
        rows = wait_rows(quick.sqlalchemy_url, 1, timeout_s=30, status="dead_lettered")
        rows = wait_rows(quick.sqlalchemy_url, 2, job_id=answer.job_id)
        bootstrap = quick.kafka_bootstrap_servers
        [first] = read_all(bootstrap, quick.jobs_topic, 1)
        [retried] = read_all(bootstrap, retry_topic(quick.jobs_topic, 2), 1)
        [dead] = read_all(bootstrap, dead_letter_topic(quick.jobs_topic), 1)

    sent = dict(first.headers())["traceparent"]
    assert tracing.trace_id(sent) == TRACE_ID and sent.decode() != CALLER, "same trace, the job's own span"
    assert dict(retried.headers())["traceparent"] == sent
    assert dict(dead.headers())["traceparent"] == sent
    assert [(r.status, r.traceparent) for r in rows] == [
        ("retry_scheduled", sent.decode()),
        ("dead_lettered", sent.decode()),
    ]
    records = [tracing.record_fields(r) | {"msg": r.getMessage()} for r in caplog.records]
    [failed] = [r for r in records if r["msg"] == "job failed; retry scheduled"]
    assert (failed["job_id"], failed["attempt"], failed["trace_id"]) == (answer.job_id, 1, TRACE_ID)
    [accepted] = [r for r in records if r["msg"] == "job accepted"]
    assert accepted["trace_id"] == TRACE_ID


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_call_without_traceparent_starts_a_trace(settings, read_topic):
    request = sample_request(
        f"b-{uuid.uuid4().hex[:8]}", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT
    )
    with running_trigger(settings) as (stub, _):
        stub.EnqueueAutomation(request, timeout=10, metadata=[("traceparent", "not-a-traceparent")])
    [msg] = read_topic(settings.jobs_topic, 1)
    assert tracing.parse(dict(msg.headers())["traceparent"]) is not None
