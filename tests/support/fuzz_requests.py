"""Hypothesis strategies for EnqueueAutomationRequest: valid (a valid template with generated names, pets,
times and time zones), invalid (a valid one with 1-3 definitely bad changes) and hostile (random bytes,
as raw bytes or parsed into the message). Each case is ``(kind, request)``; see tests/test_fuzz.py."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from functools import cache

from google.protobuf.message import DecodeError
from hypothesis import strategies as st

from shared.constants import MAX_ID_LEN, MAX_IDEMPOTENCY_KEY_LEN
from shared.names import RECIPIENT_NAMES, SERVED_RECIPIENTS, needs_sitter
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.validation import MAX_REQUEST_BYTES

VALID, INVALID, ANY = "valid", "invalid", "any"  # ANY: OK or INVALID_ARGUMENT, both fine

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # Bidi_Control
_COMBOS = sorted((t, r) for t, rs in SERVED_RECIPIENTS.items() for r in rs)
_ZONES = sorted(zoneinfo.available_timezones())
_NOW = int(datetime.now(UTC).timestamp())
_FIRST_START = _NOW + int(timedelta(days=4).total_seconds())  # every computed send time is ahead
_LAST_START = int(datetime(2099, 12, 1, tzinfo=UTC).timestamp())
_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_KEY_CHARS = "".join(chr(c) for c in range(0x21, 0x7F))

# Any text the validation accepts: no C0/C1 controls, line/paragraph separators (Zl, Zp: U+2028/U+2029) or
# bidi overrides (emoji, CJK, marks... welcome).
_chars = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters=_BIDI)
_hostile_chars = st.characters(blacklist_categories=("Cs",))  # controls and bidi included


@cache
def _text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    """Valid text, sometimes exactly ``max_size`` long (a repeated character: cheap to generate)."""
    return st.one_of(
        st.text(_chars, min_size=min_size, max_size=min(max_size, 12)),
        st.builds(lambda c, n: c * n, _chars, st.sampled_from([max_size, max(max_size // 2, min_size)])),
    )


@cache
def _too_long(limit: int) -> st.SearchStrategy[str]:
    """Text over ``limit``: just over, or far over (up to 100,000 characters, 400 KB: well under the
    message size limit, which tests/test_limits.py covers)."""
    sizes = st.one_of(st.integers(limit + 1, limit + 5), st.integers(limit + 1, 100_000))
    return st.builds(lambda c, n: c * n, _chars, sizes)


_phone = st.builds(
    lambda first, rest: f"+{first}{rest}",
    st.sampled_from("123456789"),
    st.text("0123456789", min_size=6, max_size=14),
)
# shared/contacts.py: a dot-atom local part (at most 64) and a host name of letter/digit/hyphen labels.
_email = st.builds(
    "{}@{}.{}".format,
    st.lists(
        st.text("abcdefghijklmnopqrstuvwxyz0123456789_+-'", min_size=1, max_size=15), min_size=1, max_size=4
    ).map(".".join),
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?", fullmatch=True),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6),
)


_optional_email = st.one_of(st.just(""), _email)


@cache
def _optional(max_size: int) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), _text(max_size))


@st.composite
def valid_requests(draw: st.DrawFn) -> pb.EnqueueAutomationRequest:
    automation_type, recipient = draw(st.sampled_from(_COMBOS))
    req = pb.EnqueueAutomationRequest(automation_type=automation_type, recipient=recipient)
    b = req.booking
    b.id = draw(st.text(_ID_CHARS, min_size=1, max_size=MAX_ID_LEN))
    b.version = draw(st.integers(0, 2**63 - 1))
    b.status = draw(st.sampled_from([v for v in pb.BookingStatus.values() if v]))
    b.client.first_name = draw(_text(100))
    b.client.last_name = draw(_optional(100))
    b.client.phone = draw(_phone)
    b.client.email = draw(_optional_email)
    if needs_sitter(automation_type, recipient) or draw(st.booleans()):
        b.sitter.id = draw(st.text(_ID_CHARS, min_size=1, max_size=MAX_ID_LEN))
        b.sitter.name = draw(_text(100))
        b.sitter.phone = draw(_phone) if recipient == pb.RECIPIENT_SITTER or draw(st.booleans()) else ""
    b.service_name = draw(_text(100))
    b.start_at.seconds = draw(st.integers(_FIRST_START, _LAST_START))
    b.start_at.nanos = draw(st.integers(0, 999_999_999))
    b.end_at.seconds = b.start_at.seconds + draw(st.integers(1, 30 * 86400))
    b.end_at.nanos = draw(st.integers(0, 999_999_999))
    b.timezone = draw(st.sampled_from(_ZONES))
    for _ in range(draw(st.sampled_from([0, 1, 1, 2, 3, 20]))):
        b.pets.add(name=draw(_text(50)), species=draw(_optional(50)))
    b.address = draw(_optional(500))
    b.notes = draw(_optional(2000))
    if automation_type == pb.AUTOMATION_TYPE_PAYMENT_REMINDER or draw(st.booleans()):
        b.total_price.currency_code = draw(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3))
        b.total_price.amount_minor = draw(st.integers(0, 2**63 - 1))
    b.paid = draw(st.booleans())
    if draw(st.booleans()):
        req.idempotency_key = draw(st.text(_KEY_CHARS, min_size=1, max_size=MAX_IDEMPOTENCY_KEY_LEN))
    if draw(st.integers(0, 4)) == 0:
        req.due_at.seconds = draw(st.integers(_NOW + 3600, _LAST_START))
    return req


@cache
def _bad_text(limit: int, required: bool) -> st.SearchStrategy[str]:
    """Text that fails the checks of a field of at most ``limit`` characters."""
    hostile = st.builds(
        lambda a, c, z: a + c + z,
        st.text(_chars, max_size=5),
        st.sampled_from(["\x00", "\x1b", "\x7f", "\x85", *_BIDI]),
        st.text(_hostile_chars, max_size=5),
    )
    return st.one_of(_too_long(limit), hostile, *([st.just("")] if required else []))


def _set(req: pb.EnqueueAutomationRequest, path: str, value: object) -> None:
    *parents, name = path.split(".")
    message = req
    for parent in parents:
        message = getattr(message, parent)
    setattr(message, name, value)


def _unserved(req: pb.EnqueueAutomationRequest) -> None:
    """A recipient the request's type does not serve (every type leaves at least one out)."""
    req.recipient = min(set(RECIPIENT_NAMES) - SERVED_RECIPIENTS.get(req.automation_type, frozenset()))


_unknown_enum = st.one_of(st.just(0), st.integers(7, 2**31 - 1), st.integers(-(2**31), -1))
_huge_seconds = st.one_of(st.integers(-(2**62), 946684799), st.integers(4133980800, 2**62))
_no_currency = st.text(_hostile_chars, max_size=5).filter(lambda t: not (len(t) == 3 and t.isupper()))
_bad_zones = st.sampled_from(["", "Mars/Olympus", "../etc/passwd", "utc", "America/New York"])
_bad_ids = st.one_of(st.just(""), st.text(_ID_CHARS, min_size=65, max_size=300), _bad_text(64, True))
_bad_keys = st.one_of(st.just("has space"), st.text(_KEY_CHARS, min_size=201), _bad_text(200, True))
# field path -> values that field must refuse, whatever the rest of the request holds
_BAD_VALUES: dict[str, st.SearchStrategy] = {
    "automation_type": _unknown_enum,
    "recipient": st.one_of(st.just(0), st.integers(4, 2**31 - 1)),
    "idempotency_key": _bad_keys,
    "due_at.seconds": st.one_of(
        st.integers(946684800, _NOW - 2 * 86400), _huge_seconds
    ),  # past, out of range
    "booking.id": _bad_ids,
    "booking.version": st.integers(-(2**63), -1),
    "booking.status": _unknown_enum,
    "booking.client.first_name": _bad_text(100, True),
    "booking.client.last_name": _bad_text(100, False),
    "booking.client.phone": st.one_of(st.just(""), st.text(_hostile_chars, max_size=20).map("x{}".format)),
    "booking.client.email": st.one_of(
        st.text(_chars, min_size=1, max_size=40).filter(lambda t: "@" not in t),
        st.builds("{}<{}".format, _email, _email),  # "x<evil@attacker.example" and the like
        st.builds("{}%0d%0aBcc:{}".format, _email, _email),
        st.builds("{} <{}>".format, _text(20), _email),  # a display name
    ),
    "booking.service_name": _bad_text(100, True),
    "booking.start_at.seconds": _huge_seconds,
    "booking.start_at.nanos": st.one_of(st.integers(-(2**31), -1), st.integers(10**9, 2**31 - 1)),
    "booking.end_at.seconds": _huge_seconds,
    "booking.timezone": st.one_of(_bad_zones, _bad_text(100, True)),
    "booking.address": _bad_text(500, False),
    "booking.notes": _bad_text(2000, False),
    "booking.total_price.currency_code": _no_currency,
    "booking.total_price.amount_minor": st.integers(-(2**63), -1),
}
_CHANGES = {  # changes that need no drawn value
    "no booking": lambda r: r.ClearField("booking"),
    "no client": lambda r: r.booking.ClearField("client"),
    "no start": lambda r: r.booking.ClearField("start_at"),
    "end = start": lambda r: r.booking.end_at.CopyFrom(r.booking.start_at),
    "unserved recipient": _unserved,
    "empty sitter": lambda r: r.booking.sitter.CopyFrom(pb.Sitter(phone="x")),
}


def _mutate(draw: st.DrawFn, req: pb.EnqueueAutomationRequest) -> None:
    """One change that surely makes a valid request invalid."""
    what = draw(st.sampled_from(sorted([*_BAD_VALUES, *_CHANGES, "bad pet", "many pets"])))
    if what in _BAD_VALUES:
        _set(req, what, draw(_BAD_VALUES[what]))
    elif what == "bad pet":
        req.booking.pets.add(name=draw(_bad_text(50, True)))
    elif what == "many pets":  # up to ~100 KB of pets without names
        req.booking.pets.extend(pb.Pet() for _ in range(draw(st.integers(21, 50_000))))
    else:
        _CHANGES[what](req)


@st.composite
def invalid_requests(draw: st.DrawFn) -> pb.EnqueueAutomationRequest:
    req = draw(valid_requests())
    for _ in range(draw(st.integers(1, 3))):
        _mutate(draw, req)
    return req


def _wire_case(data: bytes) -> tuple[str, pb.EnqueueAutomationRequest | bytes]:
    """Bytes that parse are sent as the message (either answer is fine); the others raw (INVALID)."""
    try:
        return ANY, pb.EnqueueAutomationRequest.FromString(data)
    except DecodeError:
        return INVALID, data


@st.composite
def _corrupted(draw: st.DrawFn) -> bytes:
    """A valid request's wire bytes with 1-4 bytes flipped, inserted or deleted."""
    data = bytearray(draw(valid_requests()).SerializeToString())
    for _ in range(draw(st.integers(1, 4))):
        at, byte = draw(st.integers(0, len(data))), draw(st.integers(0, 255))
        how = draw(st.sampled_from(["flip", "insert", "delete"]))
        if how == "insert" or at == len(data):
            data.insert(at, byte)
        elif how == "flip":
            data[at] ^= byte or 1
        else:
            del data[at]
    return bytes(data)


@st.composite
def _with_unknown_field(draw: st.DrawFn) -> tuple[str, pb.EnqueueAutomationRequest]:
    """A valid request plus an unknown field (a newer client's, or junk): valid while the whole request
    stays within MAX_REQUEST_BYTES."""
    req = draw(valid_requests())
    size = draw(st.one_of(st.integers(0, 100), st.integers(0, 200_000)))
    req.MergeFromString(_varint(99 << 3 | 2) + _varint(size) + b"u" * size)  # field 99, length-delimited
    return (VALID if req.ByteSize() <= MAX_REQUEST_BYTES else INVALID), req


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out) + bytes([n])


def cases(*, raw_bytes: bool = True) -> st.SearchStrategy[tuple[str, pb.EnqueueAutomationRequest | bytes]]:
    """``(kind, request)``: valid and invalid requests, random bytes and corrupted valid ones (raw when
    they do not parse; left out when ``raw_bytes`` is False)."""
    wire = st.one_of(st.binary(max_size=300), _corrupted()).map(_wire_case)
    if not raw_bytes:
        wire = wire.filter(lambda case: case[0] == ANY)
    valid, invalid = (
        st.tuples(st.just(VALID), valid_requests()),
        st.tuples(st.just(INVALID), invalid_requests()),
    )
    return st.one_of(valid, invalid, wire, _with_unknown_field())
