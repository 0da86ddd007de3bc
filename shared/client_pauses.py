"""The client's pause calls (``AutomationClient.pause`` / ``resume`` / ``pauses``), in its one vocabulary:
types as stable names, proto names or ints in; scopes, stable names and aware datetimes out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

from shared.client_vocabulary import TypeLike, type_values
from shared.proto.automation.v1 import automation_pb2 as pb


@dataclass(frozen=True)
class PauseInfo:
    """A pause in force: ``scope`` is "type", "channel" or "all"; ``value`` the type's stable name, the
    channel, or "" for "all"; ``paused_by`` the authenticated caller that paused it."""

    scope: str
    value: str
    reason: str
    paused_by: str
    paused_at: datetime


@dataclass(frozen=True)
class PauseResult:
    """What a pause or resume call changed (``changed``: the pauses added, or lifted) and every pause in
    force afterwards."""

    changed: list[PauseInfo]
    pauses: list[PauseInfo]


def pause_info(pause: pb.Pause) -> PauseInfo:
    return PauseInfo(
        pause.scope, pause.value, pause.reason, pause.paused_by, pause.paused_at.ToDatetime(tzinfo=UTC)
    )


class Scope(TypedDict, total=False):
    """What a pause or resume call covers: ``automation_types`` (stable names, proto names or ints) and
    ``channels``, or ``everything``; an omitted key is empty (False)."""

    automation_types: Sequence[TypeLike]
    channels: Sequence[str]
    everything: bool


class PauseCalls:
    """Mixed into AutomationClient: it provides ``_call``, ``_stub``, ``target`` and ``_invalid``."""

    _stub: Any
    _call: Callable[..., Any]
    _invalid: Callable[[str, list[tuple[str, str]]], Exception]

    def pause(self, *, reason: str, **scope: Unpack[Scope]) -> PauseResult:
        """Pause the jobs of ``automation_types`` and ``channels`` (or ``everything``): they wait, without
        using an attempt, until resumed. A scope already paused keeps its first pause."""
        request = pb.PauseAutomationsRequest(scope=self._scope(**scope), reason=reason)
        response = self._call(self._stub.PauseAutomations, request)
        return _result(response.paused, response.pauses)

    def resume(self, *, reason: str, **scope: Unpack[Scope]) -> PauseResult:
        """Lift the pauses of ``automation_types`` and ``channels`` (``everything``: every pause in force);
        the jobs they held are released within a few seconds."""
        request = pb.ResumeAutomationsRequest(scope=self._scope(**scope), reason=reason)
        response = self._call(self._stub.ResumeAutomations, request)
        return _result(response.resumed, response.pauses)

    def pauses(self) -> list[PauseInfo]:
        """The pauses in force, oldest first."""
        return [pause_info(p) for p in self._call(self._stub.ListPauses, pb.ListPausesRequest()).pauses]

    def _scope(
        self,
        automation_types: Sequence[TypeLike] = (),
        channels: Sequence[str] = (),
        everything: bool = False,
    ) -> pb.PauseScope:
        types, bad = type_values(automation_types, "scope.automation_types")
        if bad:
            raise self._invalid("unknown automation type", bad)
        return pb.PauseScope(automation_types=types, channels=list(channels), everything=everything)


def _result(changed: Iterable[pb.Pause], pauses: Iterable[pb.Pause]) -> PauseResult:
    return PauseResult([pause_info(p) for p in changed], [pause_info(p) for p in pauses])
