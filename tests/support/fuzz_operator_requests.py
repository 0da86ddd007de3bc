"""Hypothesis strategies for the requests of CancelAutomations, GetAutomationRuns, ListDeadLetters and
ReplayDeadLetters (tests/test_fuzz.py). Each case is ``(kind, request)``: VALID requests must be answered
OK; ANY requests (hostile values: any int64 seconds and int32 nanos, any text without surrogates, NUL
and controls included, huge lists, arbitrary page tokens) OK or INVALID_ARGUMENT; INVALID ones (raw
bytes that do not parse) INVALID_ARGUMENT."""

from __future__ import annotations

import base64
from collections.abc import Callable

from google.protobuf.message import DecodeError, Message
from hypothesis import strategies as st

from shared.constants import MAX_ID_LEN, MAX_IDEMPOTENCY_KEY_LEN
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.fuzz_requests import ANY, INVALID, VALID
from trigger_service.operator_validation import MAX_TIMESTAMP_S, MIN_TIMESTAMP_S, encode_page_token

# Replays faster than this are not paced long enough to slow the fuzz (a slower pace is a dry run).
_FAST_RATE_PER_S = 100.0
_KNOWN_TYPES = [t for t in pb.AutomationType.values() if t]
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_KEY_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))
_CLASSES = ["http_4xx", "http_5xx", "timeout", "connection", "template", "no_recipient", "internal"]

_any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)  # NUL, controls, bidi
_long_text = st.builds(
    lambda c, n: c * n, st.characters(blacklist_categories=("Cs",)), st.integers(60, 100_000)
)
_hostile_text = st.one_of(_any_text, _long_text)
_ids = st.text(_ID_CHARS, min_size=1, max_size=MAX_ID_LEN)
_keys = st.text(_KEY_CHARS, min_size=1, max_size=MAX_IDEMPOTENCY_KEY_LEN)
_int32, _int64 = st.integers(-(2**31), 2**31 - 1), st.integers(-(2**63), 2**63 - 1)
_edge_seconds = st.sampled_from(
    [MIN_TIMESTAMP_S - 1, MIN_TIMESTAMP_S, 0, MAX_TIMESTAMP_S, MAX_TIMESTAMP_S + 1, 2**62, -(2**62)]
)


def _huge_list(values: st.SearchStrategy) -> st.SearchStrategy[list]:
    """Up to 100,000 copies of one value (cheap to draw; under the 4 MiB message limit, which
    tests/test_limits.py covers, for values up to 30 bytes)."""
    return st.builds(lambda v, n: [v] * n, values, st.integers(7, 100_000))


def _timestamp(seconds: st.SearchStrategy[int], nanos: st.SearchStrategy[int]) -> st.SearchStrategy:
    return st.builds(lambda s, n: {"seconds": s, "nanos": n}, seconds, nanos)


_valid_time = _timestamp(st.integers(MIN_TIMESTAMP_S, MAX_TIMESTAMP_S), st.integers(0, 999_999_999))
_any_time = _timestamp(st.one_of(_int64, _edge_seconds), st.one_of(_int32, st.sampled_from([-1, 10**9])))
_issued_tokens = st.builds(encode_page_token, st.integers(1, 2**63 - 1))
_tokens = st.one_of(
    _issued_tokens,
    st.builds(encode_page_token, st.one_of(st.integers(max_value=0), st.integers(min_value=2**63))),
    st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.builds(
        lambda s: base64.urlsafe_b64encode(s.encode()).decode(), st.text(max_size=30).map("id:{}".format)
    ),
    _hostile_text,
)


def _filter(types, classes, booking, time, replayed) -> st.SearchStrategy[pb.DeadLetterFilter]:
    @st.composite
    def build(draw: st.DrawFn) -> pb.DeadLetterFilter:
        f = pb.DeadLetterFilter(
            automation_types=draw(types), error_classes=draw(classes), booking_id=draw(booking)
        )
        for name in ("since", "until"):
            if draw(st.booleans()):
                stamp = draw(time)
                getattr(f, name).seconds, getattr(f, name).nanos = stamp["seconds"], stamp["nanos"]
        f.include_replayed = draw(replayed)
        return f

    return build()


_valid_filter = _filter(
    st.lists(st.sampled_from(_KNOWN_TYPES), max_size=len(_KNOWN_TYPES)),
    st.lists(st.one_of(st.sampled_from(_CLASSES), st.text(_KEY_CHARS, min_size=1, max_size=64)), max_size=32),
    st.one_of(st.just(""), _ids),
    _valid_time,
    st.booleans(),
)
_any_filter = _filter(
    st.one_of(st.lists(st.one_of(st.sampled_from(_KNOWN_TYPES), _int32), max_size=10), _huge_list(_int32)),
    st.one_of(
        st.lists(st.one_of(st.sampled_from(_CLASSES), _hostile_text), max_size=5),
        _huge_list(st.text(st.characters(blacklist_categories=("Cs",)), max_size=7)),
    ),
    st.one_of(st.just(""), _ids, _hostile_text),
    st.one_of(_valid_time, _any_time),
    st.booleans(),
)


@st.composite
def _runs(draw: st.DrawFn, valid: bool) -> pb.GetAutomationRunsRequest:
    selector = draw(st.sampled_from(["job_id", "idempotency_key", "booking_id", *([] if valid else [None])]))
    req = pb.GetAutomationRunsRequest()
    if selector is not None:
        values = _keys if selector == "idempotency_key" else _ids
        setattr(req, selector, draw(values if valid else st.one_of(values, _hostile_text)))
    req.page_size = draw(st.integers(0, 500) if valid else st.one_of(st.integers(0, 500), _int32))
    req.page_token = draw(st.one_of(st.just(""), _issued_tokens if valid else _tokens))
    return req


@st.composite
def _list(draw: st.DrawFn, valid: bool) -> pb.ListDeadLettersRequest:
    return pb.ListDeadLettersRequest(
        filter=draw(_valid_filter if valid else _any_filter),
        page_size=draw(st.integers(0, 500) if valid else st.one_of(st.integers(0, 500), _int32)),
        page_token=draw(st.one_of(st.just(""), _issued_tokens if valid else _tokens)),
    )


@st.composite
def _replay(draw: st.DrawFn, valid: bool) -> pb.ReplayDeadLettersRequest:
    rates = st.one_of(st.just(0.0), st.floats(_FAST_RATE_PER_S, 10_000.0))
    req = pb.ReplayDeadLettersRequest(
        filter=draw(_valid_filter if valid else _any_filter),
        dry_run=draw(st.booleans()),
        max_per_second=draw(rates if valid else st.one_of(rates, st.floats(), st.floats(0.1, 1.0))),
        limit=draw(st.integers(0, 10**6) if valid else _int32),
    )
    if 0 < req.max_per_second < _FAST_RATE_PER_S:  # a valid slow pace: answered without pacing anything
        req.dry_run = True
    return req


@st.composite
def _cancel(draw: st.DrawFn, valid: bool) -> pb.CancelAutomationsRequest:
    if valid:
        types = st.lists(st.sampled_from(_KNOWN_TYPES), max_size=len(_KNOWN_TYPES))
        return pb.CancelAutomationsRequest(booking_id=draw(_ids), automation_types=draw(types))
    types = st.one_of(
        st.lists(st.one_of(st.sampled_from(_KNOWN_TYPES), _int32), max_size=10), _huge_list(_int32)
    )
    booking = st.one_of(_ids, _hostile_text)
    return pb.CancelAutomationsRequest(booking_id=draw(booking), automation_types=draw(types))


_BUILDERS: dict[str, Callable[[bool], st.SearchStrategy[Message]]] = {
    "CancelAutomations": _cancel,
    "GetAutomationRuns": _runs,
    "ListDeadLetters": _list,
    "ReplayDeadLetters": _replay,
}
OPERATOR_RPCS = sorted(_BUILDERS)


def _wire(message_class: type[Message]) -> Callable[[bytes], tuple[str, Message | bytes]]:
    def case(data: bytes) -> tuple[str, Message | bytes]:
        try:
            return ANY, message_class.FromString(data)
        except DecodeError:  # e.g. invalid UTF-8 in a string field
            return INVALID, data

    return case


def operator_cases(rpc: str) -> st.SearchStrategy[tuple[str, Message | bytes]]:
    """``(kind, request)`` for ``rpc``: valid and hostile requests, and random bytes."""
    build = _BUILDERS[rpc]
    return st.one_of(
        st.tuples(st.just(VALID), build(True)),
        st.tuples(st.just(ANY), build(False)),
        st.binary(max_size=200).map(_wire(_REQUEST_CLASSES[rpc])),
    )


_REQUEST_CLASSES: dict[str, type[Message]] = {
    "CancelAutomations": pb.CancelAutomationsRequest,
    "GetAutomationRuns": pb.GetAutomationRunsRequest,
    "ListDeadLetters": pb.ListDeadLettersRequest,
    "ReplayDeadLetters": pb.ReplayDeadLettersRequest,
}
