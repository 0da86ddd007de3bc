"""Property test: generated valid, invalid and hostile requests against a real trigger over gRPC, with
PostgreSQL behind it (SQLite when no PostgreSQL is configured outside CI), for every RPC of
AutomationService.

Valid requests answer OK, invalid ones INVALID_ARGUMENT with at least one field violation, nothing
answers anything else (never INTERNAL, UNKNOWN or UNAVAILABLE), and the jobs topic grows by exactly the
accepted, non-duplicate jobs: nothing invalid reaches Kafka. Strategies: tests/support/fuzz_requests.py
(enqueue) and tests/support/fuzz_operator_requests.py (cancel and the operator RPCs).
FUZZ_EXAMPLES=20000 searches longer (default 2000 enqueue calls, about 15 s, and a quarter of that per
other RPC)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import grpc
import pytest
import redis
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from shared.config import Settings
from shared.kafka_admin import ensure_topics
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from tests.support.fuzz_operator_requests import OPERATOR_RPCS, operator_cases
from tests.support.fuzz_requests import ANY, INVALID, VALID, cases
from tests.support.kafka_tools import end_offsets
from tests.support.operator_cases import NEVER, call, field_violations, fresh_postgres, seed_eventlog
from trigger_service.server import create_server

pytestmark = pytest.mark.slow

FUZZ = hypothesis_settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")),
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
BATCH_EXAMPLES = 300
OPERATOR_EXAMPLES = max(int(os.environ.get("FUZZ_EXAMPLES", "2000")) // 4, 1)
ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}


_REPORT: dict[str, int] = {}  # "<kind>:<code>" -> answers, all tests of the module together


@dataclass
class Trigger:
    """The one trigger of this module, its stub and channel, and the topic its jobs go to."""

    stub: pb_grpc.AutomationServiceStub
    channel: grpc.Channel
    bootstrap: str
    topic: str

    def topic_size(self) -> int:
        return sum(end_offsets(self.bootstrap, self.topic).values())


@pytest.fixture(scope="module")
def trigger(
    kafka_bootstrap: str,
    redis_url: str,
    postgres_admin_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Trigger]:
    """One trigger for the whole module: the shipped automation settings (quiet hours on), a fresh
    jobs topic, the test Redis database flushed, no rate limit, and an EventLog on PostgreSQL (which
    refuses NUL in text; SQLite without one, except on CI) holding a few dead letters."""
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    topic = f"test.fuzz.{uuid.uuid4().hex[:10]}"
    ensure_topics(kafka_bootstrap, {topic: 3})
    var = tmp_path_factory.mktemp("fuzz")
    stack = ExitStack()
    if postgres_admin_url is not None or os.environ.get("CI") == "true":
        database_url = stack.enter_context(fresh_postgres(postgres_admin_url))
    else:
        database_url = f"sqlite:///{var}/eventlog.db"
    seed_eventlog(database_url)
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        database_url=database_url,
        var_dir=var,
        jobs_topic=topic,
        produce_timeout_s=10,
        rate_limit_per_s=0,
    )
    server = create_server(settings, "127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Trigger(pb_grpc.AutomationServiceStub(channel), channel, kafka_bootstrap, topic)
    finally:
        channel.close()
        server.stop(grace_s=1.0)
        stack.close()
        print("\nfuzz answers: " + ", ".join(f"{k} {v}" for k, v in sorted(_REPORT.items())))


def violations(status: status_pb2.Status) -> list[error_details_pb2.BadRequest.FieldViolation]:
    found = []
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.extend(bad.field_violations)
    return found


def check_answer(
    kind: str,
    code: grpc.StatusCode,
    status: status_pb2.Status | None,
    accepted: pb.EnqueueAutomationResponse | None,
) -> int:
    """Assert the answer fits ``kind``; returns 1 for a job written to Kafka (OK, not a duplicate)."""
    _REPORT[f"{kind}:{code.name}"] = _REPORT.get(f"{kind}:{code.name}", 0) + 1
    assert code in ALLOWED, f"{kind} request answered {code.name}: {status.message if status else ''}"
    if kind == VALID:
        assert code == grpc.StatusCode.OK, f"valid request refused: {[str(v) for v in violations(status)]}"
    if kind == INVALID:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, "invalid request accepted"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert status is not None and violations(status), "INVALID_ARGUMENT without field violations"
        return 0
    assert accepted is not None and accepted.job_id and accepted.idempotency_key
    return 0 if accepted.duplicate else 1


def send_one(trigger: Trigger, kind: str, request: pb.EnqueueAutomationRequest | bytes) -> int:
    """One EnqueueAutomation call (raw bytes go out as they are); returns jobs written."""
    if isinstance(request, bytes):
        call = trigger.channel.unary_unary(
            "/automation.v1.AutomationService/EnqueueAutomation",
            request_serializer=None,
            response_deserializer=pb.EnqueueAutomationResponse.FromString,
        )
    else:
        call = trigger.stub.EnqueueAutomation
    try:
        response = call(request, timeout=15)
    except grpc.RpcError as exc:
        return check_answer(kind, exc.code(), rpc_status.from_call(exc), None)
    return check_answer(kind, grpc.StatusCode.OK, None, response)


def test_enqueue_automation_answers_only_ok_or_invalid_argument(trigger: Trigger) -> None:
    before = trigger.topic_size()
    written = 0

    @FUZZ
    @given(cases())
    def one_call(case: tuple[str, pb.EnqueueAutomationRequest | bytes]) -> None:
        nonlocal written
        written += send_one(trigger, *case)

    one_call()
    assert trigger.topic_size() - before == written, "the jobs topic does not hold exactly the accepted jobs"


def test_enqueue_automations_item_results(trigger: Trigger) -> None:
    before = trigger.topic_size()
    written = 0
    messages = cases(raw_bytes=False)

    @hypothesis_settings(FUZZ, max_examples=BATCH_EXAMPLES)
    @given(st.lists(messages, min_size=1, max_size=20))
    def one_batch(items: list[tuple[str, pb.EnqueueAutomationRequest]]) -> None:
        nonlocal written
        batch = pb.EnqueueAutomationsRequest(requests=[request for _, request in items])
        assume(batch.ByteSize() < 3 * 1024 * 1024)  # bigger is RESOURCE_EXHAUSTED: tests/test_limits.py
        try:
            response = trigger.stub.EnqueueAutomations(batch, timeout=30)
        except grpc.RpcError as exc:  # the call itself fails only for > 500 items or Redis down
            pytest.fail(f"EnqueueAutomations answered {exc.code().name}: {exc.details()}")
        assert len(response.results) == len(items)
        for (kind, _), result in zip(items, response.results, strict=True):
            if result.HasField("error"):
                code = grpc.StatusCode.INVALID_ARGUMENT
                if result.error.code != code_pb2.INVALID_ARGUMENT:
                    code = next(c for c in grpc.StatusCode if c.value[0] == result.error.code)
                written += check_answer(kind, code, result.error, None)
            else:
                written += check_answer(kind, grpc.StatusCode.OK, None, result.accepted)

    one_batch()
    assert trigger.topic_size() - before == written, "the jobs topic does not hold exactly the accepted jobs"


@pytest.mark.parametrize("rpc", OPERATOR_RPCS)
def test_cancel_and_operator_rpcs_answer_only_ok_or_invalid_argument(
    trigger: Trigger, rpc: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Valid requests OK, hostile ones OK or INVALID_ARGUMENT with field violations, undecodable bytes
    INVALID_ARGUMENT; never UNKNOWN, INTERNAL or UNAVAILABLE (what the EventLog database refuses, such as
    NUL in text, must be refused before it is asked), and no ERROR line."""
    caplog.set_level(logging.WARNING)

    @hypothesis_settings(FUZZ, max_examples=OPERATOR_EXAMPLES)
    @given(operator_cases(rpc))
    def one_call(case: tuple[str, object]) -> None:
        kind, request = case
        if not isinstance(request, bytes):  # bigger is RESOURCE_EXHAUSTED: tests/test_limits.py
            assume(request.ByteSize() < 3 * 1024 * 1024)
        answer = call(trigger.channel, rpc, request, timeout_s=15)
        _REPORT[f"{rpc}/{kind}:{answer.code.name}"] = _REPORT.get(f"{rpc}/{kind}:{answer.code.name}", 0) + 1
        assert answer.code not in NEVER, f"{rpc} {kind} request answered {answer.code.name}: {answer.details}"
        assert answer.code in ALLOWED, f"{rpc} answered {answer.code.name}: {answer.details}"
        if kind == VALID:
            assert answer.code == grpc.StatusCode.OK, f"valid request refused: {answer.violations()}"
        if kind == INVALID:
            assert answer.code == grpc.StatusCode.INVALID_ARGUMENT, "undecodable bytes accepted"
        if answer.code == grpc.StatusCode.INVALID_ARGUMENT:
            assert field_violations(answer.status), "INVALID_ARGUMENT without field violations"

    one_call()
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], f"{rpc} logged errors: {errors[:3]}"
    tried = {key.split("/", 1)[1] for key in _REPORT if key.startswith(f"{rpc}/")}
    assert {f"{VALID}:OK", f"{ANY}:INVALID_ARGUMENT"} <= tried, f"{rpc}: only {sorted(tried)} tried"


def test_every_kind_of_case_was_tried() -> None:
    """The strategies really produce valid, invalid and hostile cases (and the valid ones pass)."""
    kinds = {key.split(":")[0] for key in _REPORT}
    if not kinds:
        pytest.skip("the fuzz tests did not run")
    assert {VALID, INVALID, ANY} <= kinds
    assert _REPORT.get(f"{VALID}:OK", 0) > 100
