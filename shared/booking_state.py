"""What the pipeline knows about each booking, kept in Redis so that pending jobs can be re-checked
right before they send.

One hash per booking, ``automation:booking:<id>``:

- ``v``, ``status``, ``paid``: the newest booking version accepted by the trigger, and its status and
  payment state (a newer booking update sent with *any* automation counts);
- ``v:<type>:<recipient>``: the newest version accepted for that pair; older pending jobs of the pair
  are *superseded*;
- ``cancel:<type>`` / ``cancel:*``: when CancelAutomations cancelled that type (or every type), epoch
  milliseconds; pending jobs enqueued before it are *cancelled*.

The trigger writes after the broker acknowledged a job (so a failed write never supersedes anything)
and on CancelAutomations; the executor reads it once per batch. ``verdict()`` is the pure decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import redis

from shared import json_text
from shared.constants import BOOKING_KEY_PREFIX
from shared.db.event_status import EventStatus
from shared.names import recipient_name, type_name
from shared.proto.automation.v1 import automation_pb2 as pb
from shared.redis_client import load_script

ALL_TYPES = "*"
# Types that make no sense once the booking is cancelled (all six today: none is a cancellation notice).
_CANCELLED_BOOKING_STATUS = pb.BOOKING_STATUS_CANCELLED


@dataclass(frozen=True)
class BookingSnapshot:
    """A booking's hash, parsed."""

    version: int = -1
    status: int = pb.BOOKING_STATUS_UNSPECIFIED
    paid: bool = False
    pair_versions: dict[str, int] = field(default_factory=dict)
    cancelled_at_ms: dict[str, int] = field(default_factory=dict)  # type name or "*" -> ms

    @classmethod
    def parse(cls, raw: dict[bytes, bytes]) -> BookingSnapshot:
        text = {k.decode(): v.decode() for k, v in raw.items()}
        pairs = {k[2:]: int(v) for k, v in text.items() if k.startswith("v:")}
        cancels = {k[7:]: int(v) for k, v in text.items() if k.startswith("cancel:")}
        return cls(
            version=int(text.get("v", -1)),
            status=int(text.get("status", 0)),
            paid=text.get("paid") == "1",
            pair_versions=pairs,
            cancelled_at_ms=cancels,
        )


def pair_field(automation_type: int, recipient: int) -> str:
    return f"v:{type_name(automation_type)}:{recipient_name(recipient)}"


def verdict(job: pb.AutomationJob, snapshot: BookingSnapshot) -> tuple[str, str] | None:
    """``(status, reason)`` when ``job`` must not send any more, else None (pure)."""
    request = job.request
    booking, kind = request.booking, type_name(request.automation_type)
    enqueued_ms = job.enqueued_at.ToMilliseconds()
    cancelled_ms = max(snapshot.cancelled_at_ms.get(ALL_TYPES, 0), snapshot.cancelled_at_ms.get(kind, 0))
    if cancelled_ms and cancelled_ms >= enqueued_ms:
        return EventStatus.CANCELLED, "cancelled by CancelAutomations"
    newest_pair = snapshot.pair_versions.get(f"{kind}:{recipient_name(request.recipient)}", -1)
    if newest_pair > booking.version:
        return EventStatus.SUPERSEDED, f"superseded by booking version {newest_pair}"
    newest = snapshot.version if snapshot.version > booking.version else booking.version
    status = snapshot.status if snapshot.version > booking.version else booking.status
    if status == _CANCELLED_BOOKING_STATUS:
        return EventStatus.CANCELLED, f"booking cancelled (version {newest})"
    paid = snapshot.paid if snapshot.version > booking.version else booking.paid
    if request.automation_type == pb.AUTOMATION_TYPE_PAYMENT_REMINDER and paid:
        return EventStatus.SKIPPED_NOT_APPLICABLE, f"booking paid (version {newest})"
    return None


class BookingStates:
    def __init__(self, client: redis.Redis, *, ttl_s: int) -> None:
        self._redis = client
        self._ttl_s = ttl_s
        self._record = load_script(client, __package__, "booking_state_record.lua")
        self._cancel = load_script(client, __package__, "booking_state_cancel.lua")
        self._fetch = load_script(client, __package__, "booking_state_fetch.lua")

    def record(self, requests: Iterable[pb.EnqueueAutomationRequest]) -> None:
        """Note accepted jobs' booking versions and states (one script call)."""
        keys: list[str] = []
        args: list[str] = []
        for r in requests:
            b = r.booking
            keys.append(BOOKING_KEY_PREFIX + b.id)
            args += [
                str(b.version),
                str(b.status),
                "1" if b.paid else "0",
                pair_field(r.automation_type, r.recipient),
            ]
        if keys:
            # one JSON argument, not four per booking: redis-py packs each argument in Python
            self._record(keys=keys, args=[json_text.dumps(args), self._ttl_s])

    def cancel(self, booking_id: str, type_names: Sequence[str], at_ms: int) -> None:
        """Cancel the booking's jobs of ``type_names`` (empty: every type) enqueued up to ``at_ms``."""
        fields = [f"cancel:{t}" for t in type_names] or [f"cancel:{ALL_TYPES}"]
        self._cancel(keys=[BOOKING_KEY_PREFIX + booking_id], args=[at_ms, self._ttl_s, *fields])

    def fetch(self, booking_ids: Iterable[str]) -> dict[str, BookingSnapshot]:
        """Snapshots of these bookings (one script call); unknown bookings are absent."""
        ids = list(dict.fromkeys(booking_ids))
        if not ids:
            return {}
        flat = self._fetch(keys=[BOOKING_KEY_PREFIX + i for i in ids])
        snapshots = {}
        for booking_id, pairs in zip(ids, flat, strict=True):
            if pairs:
                snapshots[booking_id] = BookingSnapshot.parse(dict(zip(pairs[::2], pairs[1::2], strict=True)))
        return snapshots
