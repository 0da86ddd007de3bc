"""Validation of the operator RPCs' requests (GetAutomationRuns, ListDeadLetters, ReplayDeadLetters) and of
CancelAutomations' list, before anything touches the database or Redis.

Pure functions, no I/O. Each ``parse_*`` collects every violation and raises :class:`BadQuery` (answered
INVALID_ARGUMENT with ``google.rpc.BadRequest`` field violations, see validation.py) or returns the query
in checked, plain values: times as aware datetimes within what Python and both databases hold, strings
that match the EventLog's formats and column lengths (no NUL or control characters, which PostgreSQL
refuses in text), deduplicated filter lists of bounded length, page tokens that name a row id in
1..2**63-1. So a request that passes can fail only for a reason a retry may fix (UNAVAILABLE).
Descriptions never echo the submitted values.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from shared.constants import (
    DEFAULT_PAGE_SIZE,
    MAX_ERROR_CLASS_LEN,
    MAX_FILTER_ERROR_CLASSES,
    MAX_PAGE_SIZE,
    MAX_PAGE_TOKEN_LEN,
    MAX_REPLAY_PER_CALL,
    MAX_REPLAY_RATE_PER_S,
    MIN_REPLAY_RATE_PER_S,
)
from shared.names import AUTOMATION_TYPE_NAMES
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.vocabulary import ID_EXPECTED, ID_PATTERN, IDEMPOTENCY_KEY_EXPECTED, IDEMPOTENCY_KEY_PATTERN
from trigger_service.validation import Violation, validate_cancel_request

MAX_ROW_ID = 2**63 - 1  # BIGINT
# A type filter lists each known type at most once (CancelAutomations' list too).
MAX_FILTER_TYPES = len(AUTOMATION_TYPE_NAMES)
# The range of google.protobuf.Timestamp: years 1..9999, what datetime and both databases hold.
MIN_TIMESTAMP_S = -62_135_596_800
MAX_TIMESTAMP_S = 253_402_300_799

_ID = ID_PATTERN
_ID_RULE = f"must be {ID_EXPECTED}"
_KEY = IDEMPOTENCY_KEY_PATTERN
_KEY_RULE = f"must be {IDEMPOTENCY_KEY_EXPECTED}"
_ERROR_CLASS = re.compile(rf"[\x21-\x7e]{{1,{MAX_ERROR_CLASS_LEN}}}")
_ERROR_CLASS_RULE = f"must be 1-{MAX_ERROR_CLASS_LEN} printable ASCII characters without spaces"
_TOKEN_TEXT = re.compile(r"id:([1-9][0-9]{0,18})")
_SELECTORS = {"job_id": (_ID, _ID_RULE), "idempotency_key": (_KEY, _KEY_RULE), "booking_id": (_ID, _ID_RULE)}


class BadQuery(ValueError):
    """A request that no retry can make usable; ``violations`` say why."""

    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations


@dataclass(frozen=True)
class PageRequest:
    size: int
    before_id: int | None  # rows with a smaller id; None: from the newest


@dataclass(frozen=True)
class RunsQuery:
    column: str  # "job_id", "idempotency_key" or "booking_id"
    value: str
    page: PageRequest


@dataclass(frozen=True)
class DeadLetterQuery:
    automation_types: tuple[str, ...] = ()  # stable names, sorted; empty: every type
    error_classes: tuple[str, ...] = ()  # sorted; empty: every class
    booking_id: str = ""
    since: datetime | None = None  # finished at or after
    until: datetime | None = None  # finished before
    include_replayed: bool = False


@dataclass(frozen=True)
class ReplayQuery:
    filter: DeadLetterQuery
    dry_run: bool
    limit: int  # 1..MAX_REPLAY_PER_CALL
    interval_s: float  # pause between two replays; 0: none


def parse_runs_request(req: pb.GetAutomationRunsRequest) -> RunsQuery:
    out: list[Violation] = []
    selector = req.WhichOneof("selector")
    value = getattr(req, selector) if selector else ""
    if selector is None:
        out.append(Violation("selector", "give one of job_id, idempotency_key or booking_id"))
    else:
        pattern, rule = _SELECTORS[selector]
        _check(out, selector, value, pattern, rule)
    page = _page(out, req.page_size, req.page_token)
    _raise_if(out)
    return RunsQuery(selector or "", value, page)


def parse_list_request(req: pb.ListDeadLettersRequest) -> tuple[DeadLetterQuery, PageRequest]:
    out: list[Violation] = []
    query = _dead_letter_filter(out, req.filter)
    page = _page(out, req.page_size, req.page_token)
    _raise_if(out)
    return query, page


def parse_replay_request(req: pb.ReplayDeadLettersRequest) -> ReplayQuery:
    out: list[Violation] = []
    query = _dead_letter_filter(out, req.filter)
    if req.limit < 0:  # more than MAX_REPLAY_PER_CALL is that many: `remaining` says to call again
        out.append(Violation("limit", f"must be >= 0 (0 and anything over {MAX_REPLAY_PER_CALL} mean that)"))
    rate = req.max_per_second
    if rate != 0 and not (math.isfinite(rate) and MIN_REPLAY_RATE_PER_S <= rate <= MAX_REPLAY_RATE_PER_S):
        out.append(
            Violation(
                "max_per_second",
                f"must be 0 (no pacing) or {MIN_REPLAY_RATE_PER_S:g}..{MAX_REPLAY_RATE_PER_S:g}",
            )
        )
    _raise_if(out)
    interval_s = 1.0 / rate if rate else 0.0
    return ReplayQuery(
        query, req.dry_run, min(req.limit or MAX_REPLAY_PER_CALL, MAX_REPLAY_PER_CALL), interval_s
    )


def validate_cancel(req: pb.CancelAutomationsRequest) -> list[Violation]:
    """validation.py's rules for CancelAutomations, after a bound on the type list (whose items would
    otherwise each be checked, and each give a violation)."""
    if len(req.automation_types) > MAX_FILTER_TYPES:
        out: list[Violation] = []
        _check(out, "booking_id", req.booking_id, _ID, _ID_RULE)
        return [*out, _too_many_types("automation_types", len(req.automation_types))]
    return validate_cancel_request(req)


def encode_page_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode()


def page_token_id(token: str) -> int:
    """The row id a token names; ValueError unless it is exactly a token this service issues."""
    if len(token) > MAX_PAGE_TOKEN_LEN:
        raise ValueError("too long")
    text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")  # ValueError subclasses
    match = _TOKEN_TEXT.fullmatch(text)
    if match is None or int(match.group(1)) > MAX_ROW_ID or encode_page_token(int(match.group(1))) != token:
        raise ValueError("not a token of ours")
    return int(match.group(1))


def _page(out: list[Violation], size: int, token: str) -> PageRequest:
    if not 0 <= size <= MAX_PAGE_SIZE:
        out.append(Violation("page_size", f"must be 0..{MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"))
    before_id = None
    if token:
        try:
            before_id = page_token_id(token)
        except ValueError:
            out.append(Violation("page_token", "is not a token this service issued; start without one"))
    return PageRequest(size or DEFAULT_PAGE_SIZE, before_id)


def _dead_letter_filter(out: list[Violation], f: pb.DeadLetterFilter) -> DeadLetterQuery:
    types: set[str] = set()
    if len(f.automation_types) > MAX_FILTER_TYPES:
        out.append(_too_many_types("filter.automation_types", len(f.automation_types)))
    else:
        for i, value in enumerate(f.automation_types):
            if value in AUTOMATION_TYPE_NAMES:
                types.add(AUTOMATION_TYPE_NAMES[value])
            else:
                out.append(Violation(f"filter.automation_types[{i}]", f"must be one of {_TYPE_NAMES}"))
    classes: set[str] = set()
    if len(f.error_classes) > MAX_FILTER_ERROR_CLASSES:
        out.append(Violation("filter.error_classes", f"must list at most {MAX_FILTER_ERROR_CLASSES} classes"))
    else:
        for i, error_class in enumerate(f.error_classes):
            if _check(out, f"filter.error_classes[{i}]", error_class, _ERROR_CLASS, _ERROR_CLASS_RULE):
                classes.add(error_class)
    if f.booking_id:
        _check(out, "filter.booking_id", f.booking_id, _ID, _ID_RULE)
    since = _time(out, "filter.since", f.since) if f.HasField("since") else None
    until = _time(out, "filter.until", f.until) if f.HasField("until") else None
    return DeadLetterQuery(
        tuple(sorted(types)), tuple(sorted(classes)), f.booking_id, since, until, f.include_replayed
    )


def _time(out: list[Violation], field: str, ts: timestamp_pb2.Timestamp) -> datetime | None:
    if not MIN_TIMESTAMP_S <= ts.seconds <= MAX_TIMESTAMP_S:  # raw seconds: ±2**62 would overflow
        out.append(Violation(field, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z"))
        return None
    if not 0 <= ts.nanos <= 999_999_999:
        out.append(Violation(field, "nanos must be within 0..999999999"))
        return None
    return ts.ToDatetime(tzinfo=UTC)


def _check(out: list[Violation], field: str, value: str, pattern: re.Pattern[str], rule: str) -> bool:
    if pattern.fullmatch(value):  # the patterns bound the length: no scan past it
        return True
    out.append(Violation(field, rule))
    return False


def _too_many_types(field: str, count: int) -> Violation:
    return Violation(field, f"must list each type at most once ({MAX_FILTER_TYPES} at most), got {count}")


def _raise_if(out: list[Violation]) -> None:
    if out:
        raise BadQuery(out)


_TYPE_NAMES = ", ".join(name for name, number in pb.AutomationType.items() if number != 0)
