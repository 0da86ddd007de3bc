"""Which (automation type, recipient) pairs the executor can run today.

The trigger refuses the others with UNIMPLEMENTED rather than accepting jobs that cannot run.
Issue #5 implements the remaining types; when it does, this set grows to every served pair.
"""

from __future__ import annotations

from shared.proto.automation.v1 import automation_pb2 as pb

IMPLEMENTED: frozenset[tuple[int, int]] = frozenset(
    {
        (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_CLIENT),
        (pb.AUTOMATION_TYPE_OWNER_NEW_BOOKING_ALERT, pb.RECIPIENT_OWNER),
        (pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT),
    }
)


def is_implemented(automation_type: int, recipient: int) -> bool:
    return (automation_type, recipient) in IMPLEMENTED
