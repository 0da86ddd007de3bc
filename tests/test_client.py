"""shared.client.AutomationClient: keys set before the first attempt, retries, errors — against a scripted
in-process gRPC server and against the real trigger."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.rpc import code_pb2, status_pb2

from devtools.embedded import free_port
from shared.client import (
    AutomationClient,
    AutomationClientError,
    InvalidRequest,
    Unavailable,
    with_idempotency_key,
)
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from shared.vocabulary import default_idempotency_key
from tests.support.pipeline import running_trigger
from tests.support.requests import valid_request
from tests.support.sample import sample_request


def bid() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


# --- keys, without a server ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("automation_type", "recipient", "prefix"),
    [
        (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER, "ownerNewBookingAlert:owner"),
        (pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_SITTER, "sitterAssignment:sitter"),
        (0, 0, "0:0"),  # unknown numbers are spelled as numbers (the trigger refuses such a request)
        (99, 7, "99:7"),
    ],
)
def test_default_key_is_type_recipient_booking_and_version(automation_type, recipient, prefix) -> None:
    req = valid_request(automation_type=automation_type, recipient=recipient)
    req.booking.version = 7
    assert default_idempotency_key(req) == f"{prefix}:{req.booking.id}:7"


def test_with_idempotency_key_copies_and_keeps_a_callers_key() -> None:
    original = valid_request()
    keyed = with_idempotency_key(original)
    assert keyed.idempotency_key == "bookingConfirmation:client:bk_2027-0001:3"
    assert not original.HasField("idempotency_key"), "the caller's message is not changed"
    original.idempotency_key = "mine-1"
    assert with_idempotency_key(original).idempotency_key == "mine-1"
    bad_id = valid_request()
    bad_id.booking.id = "has space"
    assert not with_idempotency_key(bad_id).HasField("idempotency_key"), "no extra violation for a key"


def test_constructor_does_no_network_io() -> None:
    started = time.monotonic()
    with AutomationClient(f"127.0.0.1:{free_port()}", timeout_s=0.5):
        pass
    assert time.monotonic() - started < 0.5


# --- a scripted server ---------------------------------------------------------------------------


class ScriptedService(pb_grpc.AutomationServiceServicer):
    """Fails the first ``failures`` calls (UNAVAILABLE, or a hang past the deadline when ``hang_s``)."""

    def __init__(self, failures: int, hang_s: float = 0.0, flaky_items: bool = True) -> None:
        self.failures = failures
        self.hang_s = hang_s
        self.flaky_items = flaky_items
        self.keys: list[list[str]] = []  # the keys of every call, in order
        self._lock = threading.Lock()

    def _fail(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            failing = self.failures > 0
            self.failures -= 1
        if failing and self.hang_s:
            time.sleep(self.hang_s)
        if failing:
            context.abort(grpc.StatusCode.UNAVAILABLE, "broker did not acknowledge; retry")

    def EnqueueAutomation(self, request, context):  # noqa: N802
        self.keys.append([request.idempotency_key])
        self._fail(context)
        return pb.EnqueueAutomationResponse(job_id="j-1", idempotency_key=request.idempotency_key)

    def EnqueueAutomations(self, request, context):  # noqa: N802
        self.keys.append([r.idempotency_key for r in request.requests])
        results = []
        for i, item in enumerate(request.requests):
            if (
                self.flaky_items and i % 2 == 1 and len(self.keys) == 1
            ):  # every second item is UNAVAILABLE the first time
                results.append(pb.EnqueueItemResult(error=status_pb2.Status(code=code_pb2.UNAVAILABLE)))
            else:
                accepted = pb.EnqueueAutomationResponse(job_id=f"j-{item.idempotency_key}")
                results.append(pb.EnqueueItemResult(accepted=accepted))
        return pb.EnqueueAutomationsResponse(results=results)


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[ScriptedService, str]]]:
    servers: list[grpc.Server] = []

    def start(
        failures: int = 0, hang_s: float = 0.0, flaky_items: bool = True
    ) -> tuple[ScriptedService, str]:
        service = ScriptedService(failures, hang_s, flaky_items)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_AutomationServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return service, f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(0)


def test_unavailable_is_retried_with_the_same_key(scripted) -> None:
    service, target = scripted(failures=2)
    with AutomationClient(target, retries=3, backoff_s=0.01) as client:
        response = client.enqueue(valid_request())
    assert service.keys == [["bookingConfirmation:client:bk_2027-0001:3"]] * 3
    assert response.idempotency_key == "bookingConfirmation:client:bk_2027-0001:3"


def test_deadline_exceeded_is_retried_with_the_same_key(scripted) -> None:
    service, target = scripted(failures=1, hang_s=0.6)
    with AutomationClient(target, timeout_s=0.3, retries=2, backoff_s=0.01) as client:
        client.enqueue(valid_request(idempotency_key="caller-key-1"))
    assert service.keys == [["caller-key-1"], ["caller-key-1"]]


def test_retries_exhausted_raise_unavailable(scripted) -> None:
    service, target = scripted(failures=10)
    with AutomationClient(target, retries=2, backoff_s=0.01) as client, pytest.raises(Unavailable) as err:
        client.enqueue(valid_request())
    assert len(service.keys) == 3 and err.value.code == grpc.StatusCode.UNAVAILABLE


def test_enqueue_many_resends_only_unavailable_items_with_their_keys(scripted) -> None:
    service, target = scripted()
    requests = [sample_request(f"b-{i}") for i in range(5)]
    with AutomationClient(target, backoff_s=0.01) as client:
        results = client.enqueue_many(requests)
    first, second = service.keys
    assert first == [default_idempotency_key(r) for r in requests]
    assert second == [first[1], first[3]], "only the UNAVAILABLE items, with the same keys"
    assert [r.accepted.job_id for r in results] == [f"j-{k}" for k in first]


def test_enqueue_many_sends_chunks_of_500(scripted) -> None:
    service, target = scripted(flaky_items=False)
    requests = [sample_request(f"b-{i}") for i in range(1201)]
    progress: list[int] = []
    with AutomationClient(target, backoff_s=0.01) as client:
        results = client.enqueue_many(requests, on_progress=progress.append)
    assert [len(k) for k in service.keys] == [500, 500, 201] and len(results) == 1201
    assert progress == [500, 500, 201]


def test_unreachable_target_raises_unavailable_in_bounded_time() -> None:
    started = time.monotonic()
    client = AutomationClient(f"127.0.0.1:{free_port()}", timeout_s=1, retries=2, backoff_s=0.05)
    with client, pytest.raises(Unavailable) as err:
        client.cancel("b-1")
    assert time.monotonic() - started < 5
    assert err.value.target.startswith("127.0.0.1:")


# --- the real trigger ----------------------------------------------------------------------------


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """These tests read no EventLog rows: one database is enough."""
    return sqlite_url


@pytest.mark.slow
def test_enqueue_twice_answers_duplicate_with_the_first_job(settings) -> None:
    request = sample_request(bid())
    with running_trigger(settings) as (_, trigger), AutomationClient(f"127.0.0.1:{trigger.port}") as client:
        first = client.enqueue(request)
        again = client.enqueue(request)
    assert first.idempotency_key == default_idempotency_key(request)
    assert not first.duplicate and first.topic == settings.jobs_topic
    assert again.duplicate and again.job_id == first.job_id


@pytest.mark.slow
def test_invalid_argument_raises_invalid_request_with_violations(settings) -> None:
    request = sample_request(bid())
    request.booking.client.phone = "not a phone"
    request.booking.timezone = "Mars/Olympus"
    with running_trigger(settings) as (_, trigger), AutomationClient(f"127.0.0.1:{trigger.port}") as client:
        with pytest.raises(InvalidRequest) as err:
            client.enqueue(request)
        with pytest.raises(AutomationClientError) as cancel_err:
            client.cancel("not a booking id!")
    assert {field for field, _ in err.value.violations} == {"booking.client.phone", "booking.timezone"}
    assert all(description for _, description in err.value.violations)
    assert isinstance(cancel_err.value, InvalidRequest) and cancel_err.value.violations[0][0] == "booking_id"


@pytest.mark.slow
def test_enqueue_many_and_cancel_on_the_real_trigger(settings) -> None:
    good, bad = sample_request(bid()), sample_request(bid())
    bad.booking.timezone = "Mars/Olympus"
    wrong_recipient = sample_request(bid(), pb.AUTOMATION_TYPE_SITTER_ASSIGNMENT, pb.RECIPIENT_OWNER)
    wrong_recipient.booking.ClearField("sitter")
    with running_trigger(settings) as (_, trigger), AutomationClient(f"127.0.0.1:{trigger.port}") as client:
        results = client.enqueue_many([good, bad, good, wrong_recipient])
        with pytest.raises(InvalidRequest) as unary_err:
            client.enqueue(wrong_recipient)
        cancelled = client.cancel(
            good.booking.id, ["paymentReminder", "AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT", 2]
        )
        with pytest.raises(InvalidRequest) as unknown_type:
            client.cancel(good.booking.id, ["paymentreminder"])
        letters = list(client.dead_letters({"automation_types": ["paymentReminder"], "booking_id": bid()}))
        with pytest.raises(InvalidRequest) as bad_filter:
            client.dead_letters({"automation_type": ["paymentReminder"]})
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[2].accepted is not None and results[2].accepted.duplicate
    assert results[1].error is not None and results[1].error.code == "INVALID_ARGUMENT"
    assert [field for field, _ in results[1].error.violations] == ["booking.timezone"]
    # A recipient the type does not serve is reported alone, on both paths (no "booking.sitter").
    assert [field for field, _ in results[3].error.violations] == ["recipient"]
    assert [field for field, _ in unary_err.value.violations] == ["recipient"]
    assert "sitterAssignment is sent to" in unary_err.value.violations[0][1]
    assert abs(cancelled.cancelled_at - datetime.now(UTC)) < timedelta(seconds=10)
    assert cancelled.pending_jobs == 0 and cancelled.cancelled_runs == []
    assert unknown_type.value.violations[0][0] == "automation_types[0]"
    assert "paymentReminder" in unknown_type.value.violations[0][1]  # it lists the names it knows
    assert letters == []
    assert bad_filter.value.violations == [("filter.automation_type", "unknown filter key")]
