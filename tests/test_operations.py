"""Operator RPCs over gRPC on the real pipeline: runs by job, key and booking (paginated), dead letters
by filter, and replays (dry run, pacing, once only, dedup still applying)."""

from __future__ import annotations

import time
import uuid

import grpc
import pytest

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import eventlog_rows, running_executor, running_trigger, wait_rows
from tests.support.sample import sample_request

pytestmark = pytest.mark.slow
CONFIRM, ALERT = pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


def bid() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


def test_runs_by_job_key_and_booking_newest_first_with_pages(settings, http_receiver):
    booking = bid()
    pairs = [(ALERT, pb.RECIPIENT_CLIENT), (ALERT, pb.RECIPIENT_OWNER), (CONFIRM, pb.RECIPIENT_CLIENT)]
    requests = [sample_request(booking, t, r) for t, r in pairs]
    with running_trigger(settings) as (stub, _), running_executor(settings):
        answers = [stub.EnqueueAutomation(r, timeout=10) for r in requests]
        wait_rows(settings.sqlalchemy_url, 3, status="succeeded")
        by_job = stub.GetAutomationRuns(pb.GetAutomationRunsRequest(job_id=answers[1].job_id), timeout=10)
        by_key = stub.GetAutomationRuns(
            pb.GetAutomationRunsRequest(idempotency_key=answers[2].idempotency_key)
        )
        first = stub.GetAutomationRuns(
            pb.GetAutomationRunsRequest(booking_id=booking, page_size=2), timeout=10
        )
        second = stub.GetAutomationRuns(
            pb.GetAutomationRunsRequest(booking_id=booking, page_size=2, page_token=first.next_page_token)
        )
        with pytest.raises(grpc.RpcError) as no_selector:
            stub.GetAutomationRuns(pb.GetAutomationRunsRequest(), timeout=10)
        with pytest.raises(grpc.RpcError) as bad_token:
            stub.GetAutomationRuns(pb.GetAutomationRunsRequest(booking_id=booking, page_token="nope"))

    [run] = by_job.runs
    assert (run.job_id, run.status, run.attempt, run.booking_id) == (
        answers[1].job_id,
        "succeeded",
        1,
        booking,
    )
    assert run.recipient == "owner" and run.inputs["booking"]["id"] == booking
    assert "Rex, Milo and Luna" in run.outputs["body"]
    assert [r.job_id for r in by_key.runs] == [answers[2].job_id]
    assert [r.job_id for r in first.runs] == [answers[2].job_id, answers[1].job_id]  # newest first
    assert first.next_page_token and not second.next_page_token
    assert [r.job_id for r in second.runs] == [answers[0].job_id]
    assert no_selector.value.code() == bad_token.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def bad_night(settings, http_receiver, stub, n: int) -> list[pb.EnqueueAutomationResponse]:
    """``n`` jobs (one booking each) whose webhook answers 400: each is dead-lettered at once."""
    http_receiver.respond_with([400] * n + [200])
    answers = [
        stub.EnqueueAutomation(sample_request(bid(), CONFIRM, pb.RECIPIENT_CLIENT), timeout=10)
        for _ in range(n)
    ]
    wait_rows(settings.sqlalchemy_url, n, status="dead_lettered")
    return answers


def test_dead_letters_are_listed_by_filter_and_replayed_once(settings, http_receiver):
    with running_trigger(settings) as (stub, _), running_executor(settings):
        failed = bad_night(settings, http_receiver, stub, 6)
        ok = stub.EnqueueAutomation(sample_request(bid(), ALERT, pb.RECIPIENT_OWNER), timeout=10)
        wait_rows(settings.sqlalchemy_url, 1, status="succeeded")

        def listed(**filter_fields) -> list[pb.DeadLetter]:
            request = pb.ListDeadLettersRequest(filter=pb.DeadLetterFilter(**filter_fields), page_size=100)
            return list(stub.ListDeadLetters(request, timeout=10).dead_letters)

        everything = listed()
        by_class = listed(error_classes=["http_4xx"])
        other_class = listed(error_classes=["timeout"])
        by_type = listed(automation_types=[ALERT])
        by_booking = listed(booking_id=everything[-1].run.booking_id)
        later = pb.DeadLetterFilter()
        later.since.GetCurrentTime()
        after_now = list(
            stub.ListDeadLetters(pb.ListDeadLettersRequest(filter=later), timeout=10).dead_letters
        )

        dry = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(dry_run=True), timeout=10)
        rows_before = len(eventlog_rows(settings.sqlalchemy_url))
        time.sleep(0.5)
        assert len(eventlog_rows(settings.sqlalchemy_url)) == rows_before, "a dry run changed something"
        started = time.monotonic()
        paced = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(max_per_second=10, limit=4), timeout=30)
        paced_s = time.monotonic() - started
        rest = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(), timeout=30)
        again = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(), timeout=30)
        wait_rows(settings.sqlalchemy_url, 7, status="succeeded")
        time.sleep(1.0)
        after = listed()
        with_replayed = listed(include_replayed=True)

    ids = {a.job_id for a in failed}
    assert {d.run.job_id for d in everything} == ids and all(
        d.run.error_class == "http_4xx" for d in everything
    )
    row_ids = [d.run.id for d in everything]
    assert row_ids == sorted(row_ids, reverse=True)  # newest first
    assert {d.run.job_id for d in by_class} == ids and other_class == [] and by_type == []
    assert len(by_booking) == 1 and after_now == []
    assert (
        dry.dry_run
        and {r.original_job_id for r in dry.replayed} == ids
        and not any(r.new_job_id for r in dry.replayed)
    )
    assert (len(paced.replayed), paced.remaining) == (4, 2) and paced_s >= 0.3  # 10/s: 4 take >= 0.3 s
    assert (len(rest.replayed), rest.remaining) == (2, 0)
    assert list(again.replayed) == [] and again.remaining == 0, "a replayed dead letter is not replayed again"
    assert after == [] and {d.replayed_as_job_id for d in with_replayed} == {
        r.new_job_id for r in [*paced.replayed, *rest.replayed]
    }
    delivered = [r for r in http_receiver.requests if r.status == 200]
    keys = [r.headers["idempotency-key"] for r in delivered]
    assert sorted(keys) == sorted({a.idempotency_key for a in [*failed, ok]}), "each job delivered once"
    replays = {r.job_id: r for r in eventlog_rows(settings.sqlalchemy_url, status="succeeded")}
    for item in [*paced.replayed, *rest.replayed]:
        assert replays[item.new_job_id].replay_of == item.original_job_id
        assert replays[item.new_job_id].attempt == 1
    assert len(eventlog_rows(settings.sqlalchemy_url, status="replayed")) == 6


def test_replaying_a_job_that_succeeded_since_does_not_send_it_again(settings, http_receiver):
    with running_trigger(settings) as (stub, _), running_executor(settings):
        [failed] = bad_night(settings, http_receiver, stub, 1)
        first = stub.ReplayDeadLetters(pb.ReplayDeadLettersRequest(), timeout=30)
        wait_rows(settings.sqlalchemy_url, 1, status="succeeded")
        forced = pb.ReplayDeadLettersRequest(filter=pb.DeadLetterFilter(include_replayed=True))
        second = stub.ReplayDeadLetters(forced, timeout=30)
        wait_rows(settings.sqlalchemy_url, 1, status="skipped_duplicate")
    assert len(first.replayed) == len(second.replayed) == 1
    sent = [r for r in http_receiver.requests if r.status == 200]
    assert [r.headers["idempotency-key"] for r in sent] == [failed.idempotency_key]
