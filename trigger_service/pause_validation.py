"""Validation of PauseAutomations / ResumeAutomations requests, before anything touches the database.

Pure, like operator_validation.py: every violation is collected and raised as :class:`BadQuery`
(INVALID_ARGUMENT with ``google.rpc.BadRequest`` field violations); descriptions never echo the values.
A request that passes names a non-empty set of scopes (types as stable names, known channels) and a
reason of 1..500 printable characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.names import AUTOMATION_TYPE_NAMES
from shared.pauses import (
    EVERYTHING,
    MAX_REASON_LEN,
    PAUSABLE_CHANNELS,
    SCOPE_CHANNEL,
    SCOPE_TYPE,
    Scope,
)
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.operator_validation import MAX_FILTER_TYPES, BadQuery
from trigger_service.validation import Violation

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TYPE_NAMES = ", ".join(name for name, number in pb.AutomationType.items() if number != 0)
_CHANNEL_NAMES = ", ".join(PAUSABLE_CHANNELS)


@dataclass(frozen=True)
class PauseCommand:
    scopes: tuple[Scope, ...]  # sorted, deduplicated; (EVERYTHING,) when scope.everything
    reason: str

    @property
    def everything(self) -> bool:
        return self.scopes == (EVERYTHING,)


def parse_pause_request(req: pb.PauseAutomationsRequest | pb.ResumeAutomationsRequest) -> PauseCommand:
    out: list[Violation] = []
    scope = req.scope
    scopes: set[Scope] = set()
    if len(scope.automation_types) > MAX_FILTER_TYPES:
        out.append(
            Violation("scope.automation_types", f"must list each type at most once ({MAX_FILTER_TYPES})")
        )
    else:
        for i, value in enumerate(scope.automation_types):
            if value in AUTOMATION_TYPE_NAMES:
                scopes.add((SCOPE_TYPE, AUTOMATION_TYPE_NAMES[value]))
            else:
                out.append(Violation(f"scope.automation_types[{i}]", f"must be one of {_TYPE_NAMES}"))
    if len(scope.channels) > len(PAUSABLE_CHANNELS):
        out.append(Violation("scope.channels", f"must list each channel at most once ({_CHANNEL_NAMES})"))
    else:
        for i, channel in enumerate(scope.channels):
            if channel in PAUSABLE_CHANNELS:
                scopes.add((SCOPE_CHANNEL, channel))
            else:
                out.append(Violation(f"scope.channels[{i}]", f"must be one of {_CHANNEL_NAMES}"))
    named = bool(scope.automation_types or scope.channels)
    if scope.everything and named:
        out.append(
            Violation("scope.everything", "covers every job: leave automation_types and channels empty")
        )
    elif not scope.everything and not named:
        out.append(Violation("scope", "give automation_types and/or channels, or everything"))
    reason = req.reason.strip()
    if not reason:
        out.append(Violation("reason", "is required: say why (it is kept in the audit log)"))
    elif len(reason) > MAX_REASON_LEN or _CONTROL.search(reason):
        out.append(Violation("reason", f"must be 1-{MAX_REASON_LEN} characters without control characters"))
    if out:
        raise BadQuery(out)
    return PauseCommand((EVERYTHING,) if scope.everything else tuple(sorted(scopes)), reason)
