"""The operator requests' checks (trigger_service/operator_validation.py): pure, no I/O."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime

import pytest

from shared.constants import MAX_PAGE_SIZE, MAX_REPLAY_PER_CALL
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.operator_validation import (
    MAX_ROW_ID,
    BadQuery,
    encode_page_token,
    page_token_id,
    parse_list_request,
    parse_replay_request,
    parse_runs_request,
    validate_cancel,
)

CONFIRM, ALERT = pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT


def fields(parse, request) -> list[str]:
    with pytest.raises(BadQuery) as raised:
        parse(request)
    assert all(v.description for v in raised.value.violations)
    return [v.field for v in raised.value.violations]


def raw_token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("row_id", [1, 42, 10**12, MAX_ROW_ID])
def test_page_tokens_round_trip(row_id: int) -> None:
    assert page_token_id(encode_page_token(row_id)) == row_id


@pytest.mark.parametrize(
    "token",
    [
        "nope",
        raw_token("id:0"),
        raw_token("id:-5"),
        raw_token(f"id:{MAX_ROW_ID + 1}"),
        raw_token(f"id:{10**30}"),
        raw_token("id: 5"),
        raw_token("id:+5"),
        raw_token("id:1_000"),
        raw_token("id:05"),
        raw_token("id:٥"),  # an Arabic-Indic digit: int() would take it
        encode_page_token(7).rstrip("="),  # not as issued
        encode_page_token(7) + "\x00",
        "é" + encode_page_token(7),
        "A" * 100_000,
    ],
)
def test_tokens_not_issued_here_are_refused(token: str) -> None:
    with pytest.raises(ValueError):
        page_token_id(token)
    request = pb.GetAutomationRunsRequest(booking_id="b-1", page_token=token)
    assert fields(parse_runs_request, request) == ["page_token"]


def test_runs_selector_and_page() -> None:
    query = parse_runs_request(pb.GetAutomationRunsRequest(idempotency_key="k:1", page_size=7))
    assert (query.column, query.value, query.page.size, query.page.before_id) == (
        "idempotency_key",
        "k:1",
        7,
        None,
    )
    assert parse_runs_request(pb.GetAutomationRunsRequest(job_id="j")).page.size == 50
    token = encode_page_token(99)
    assert parse_runs_request(pb.GetAutomationRunsRequest(job_id="j", page_token=token)).page.before_id == 99


@pytest.mark.parametrize(
    ("request_fields", "expected"),
    [
        ({}, ["selector"]),
        ({"booking_id": ""}, ["booking_id"]),
        ({"booking_id": "b-1\x00"}, ["booking_id"]),
        ({"booking_id": "b" * 65}, ["booking_id"]),
        ({"job_id": "j\x00"}, ["job_id"]),
        ({"job_id": "j 1"}, ["job_id"]),
        ({"idempotency_key": "k\x00"}, ["idempotency_key"]),
        ({"idempotency_key": "k" * 201}, ["idempotency_key"]),
        ({"idempotency_key": "ké"}, ["idempotency_key"]),
        ({"booking_id": "b", "page_size": -1}, ["page_size"]),
        ({"booking_id": "b", "page_size": MAX_PAGE_SIZE + 1}, ["page_size"]),
        (
            {"booking_id": "b\x00", "page_size": -1, "page_token": "x"},
            ["booking_id", "page_size", "page_token"],
        ),
    ],
)
def test_bad_runs_requests(request_fields: dict, expected: list[str]) -> None:
    assert fields(parse_runs_request, pb.GetAutomationRunsRequest(**request_fields)) == expected


def test_filter_values_come_out_checked_and_deduplicated() -> None:
    f = pb.DeadLetterFilter(
        automation_types=[CONFIRM, ALERT, CONFIRM],
        error_classes=["timeout", "http_5xx", "timeout"],
        booking_id="b-1",
        include_replayed=True,
    )
    f.since.FromDatetime(datetime(1, 1, 1, tzinfo=UTC))
    f.until.seconds, f.until.nanos = 253_402_300_799, 999_999_999
    query, page = parse_list_request(pb.ListDeadLettersRequest(filter=f, page_size=MAX_PAGE_SIZE))
    assert query.automation_types == ("bookingConfirmation", "ownerNewBookingAlert")
    assert query.error_classes == ("http_5xx", "timeout") and query.booking_id == "b-1"
    assert query.since == datetime(1, 1, 1, tzinfo=UTC)
    assert query.until == datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
    assert query.include_replayed and page.size == MAX_PAGE_SIZE


def _filter(**kwargs) -> pb.DeadLetterFilter:
    since = kwargs.pop("since", None)
    until = kwargs.pop("until", None)
    f = pb.DeadLetterFilter(**kwargs)
    if since is not None:
        f.since.seconds, f.since.nanos = since
    if until is not None:
        f.until.seconds, f.until.nanos = until
    return f


BAD_FILTERS = [
    (_filter(since=(2**62, 0)), ["filter.since"]),
    (_filter(since=(-(2**62), 0)), ["filter.since"]),
    (_filter(until=(253_402_300_800, 0)), ["filter.until"]),  # year 10000
    (_filter(until=(-62_135_596_801, 0)), ["filter.until"]),
    (_filter(since=(0, -1)), ["filter.since"]),
    (_filter(until=(0, 10**9)), ["filter.until"]),
    (_filter(booking_id="b\x00"), ["filter.booking_id"]),
    (_filter(error_classes=["http\x00"]), ["filter.error_classes[0]"]),
    (_filter(error_classes=["ok", "x" * 65]), ["filter.error_classes[1]"]),
    (_filter(error_classes=["ok"] * 100_000), ["filter.error_classes"]),
    (_filter(automation_types=[CONFIRM] * 100_000), ["filter.automation_types"]),
    (_filter(automation_types=[CONFIRM, 99, 0, -1]), [f"filter.automation_types[{i}]" for i in (1, 2, 3)]),
]


@pytest.mark.parametrize(("f", "expected"), BAD_FILTERS)
def test_bad_filters_in_lists_and_replays(f: pb.DeadLetterFilter, expected: list[str]) -> None:
    assert fields(parse_list_request, pb.ListDeadLettersRequest(filter=f)) == expected
    assert fields(parse_replay_request, pb.ReplayDeadLettersRequest(filter=f)) == expected


@pytest.mark.parametrize("rate", [-1.0, math.nan, math.inf, -math.inf, 0.01, 5e-324, 1e6])
def test_replay_rates_out_of_bounds(rate: float) -> None:
    assert fields(parse_replay_request, pb.ReplayDeadLettersRequest(max_per_second=rate)) == [
        "max_per_second"
    ]


def test_replay_limit_and_pace() -> None:
    assert fields(parse_replay_request, pb.ReplayDeadLettersRequest(limit=-1)) == ["limit"]
    default = parse_replay_request(pb.ReplayDeadLettersRequest())
    assert (default.limit, default.interval_s, default.dry_run) == (MAX_REPLAY_PER_CALL, 0.0, False)
    paced = parse_replay_request(pb.ReplayDeadLettersRequest(limit=10**6, max_per_second=4, dry_run=True))
    assert (paced.limit, paced.interval_s, paced.dry_run) == (MAX_REPLAY_PER_CALL, 0.25, True)


def test_cancel_type_list_is_bounded_before_its_items_are_checked() -> None:
    huge = pb.CancelAutomationsRequest(booking_id="b-1", automation_types=[99] * 100_000)
    assert [v.field for v in validate_cancel(huge)] == ["automation_types"]
    both = pb.CancelAutomationsRequest(booking_id="b\x00", automation_types=[CONFIRM] * 7)
    assert [v.field for v in validate_cancel(both)] == ["booking_id", "automation_types"]
    few = pb.CancelAutomationsRequest(booking_id="b-1", automation_types=[CONFIRM, 99])
    assert [v.field for v in validate_cancel(few)] == ["automation_types[1]"]
    assert (
        validate_cancel(pb.CancelAutomationsRequest(booking_id="b-1", automation_types=[CONFIRM] * 6)) == []
    )
