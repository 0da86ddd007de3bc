"""PauseAutomations, ResumeAutomations, ListPauses: the pauses in force, written to the database with an
audit row (who, when, why) per scope and call, in one transaction.

The table ``automation_pause`` is the source of truth (it survives restarts and a Redis flush); every
executor reads it every ``pause_refresh_s`` (executor_service/pauses.py). Pausing a scope already paused
keeps its first pause (its time and reason; the alert on long pauses counts from it) and is audited as
unchanged; resuming a scope not paused likewise. ``everything`` on resume lifts every pause in force.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import grpc
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from shared.db.models import PauseAudit, PauseRecord
from shared.pauses import EVERYTHING, read_pauses
from shared.proto.automation.v1 import automation_pb2 as pb
from trigger_service.auth import current_caller
from trigger_service.operations import guard_eventlog, parse_or_abort
from trigger_service.pause_validation import PauseCommand, parse_pause_request

log = logging.getLogger(__name__)


class PauseStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def current(self) -> list[PauseRecord]:
        with self._sessions() as session:
            return read_pauses(session)

    def pause(self, command: PauseCommand, actor: str, at: datetime) -> tuple[list[PauseRecord], list]:
        """Pause each scope not paused yet; returns (the pauses added, every pause in force)."""
        for attempt in (1, 2):  # two triggers adding the same scope at once: the loser sees it exists
            try:
                return self._pause(command, actor, at)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _pause(self, command: PauseCommand, actor: str, at: datetime) -> tuple[list[PauseRecord], list]:
        with self._sessions() as session, session.begin():
            added = []
            for kind, value in command.scopes:
                new = session.get(PauseRecord, (kind, value)) is None
                if new:
                    record = PauseRecord(
                        scope=kind, value=value, reason=command.reason, paused_by=actor, paused_at=at
                    )
                    session.add(record)
                    added.append(record)
                session.add(_audit("pause", kind, value, new, command.reason, actor, at))
            session.flush()
            return added, read_pauses(session)

    def resume(self, command: PauseCommand, actor: str, at: datetime) -> tuple[list[PauseRecord], list]:
        """Lift the named pauses (``everything``: all); returns (the pauses lifted, those still in force)."""
        with self._sessions() as session, session.begin():
            in_force = {(r.scope, r.value): r for r in read_pauses(session)}
            named = list(in_force) if command.everything else list(command.scopes)
            lifted = [in_force[scope] for scope in named if scope in in_force]
            for kind, value in named or [EVERYTHING]:
                changed = (kind, value) in in_force
                session.add(_audit("resume", kind, value, changed, command.reason, actor, at))
            for record in lifted:
                session.execute(
                    delete(PauseRecord).where(
                        PauseRecord.scope == record.scope, PauseRecord.value == record.value
                    )
                )
            session.flush()
            return lifted, read_pauses(session)


def _audit(
    action: str, kind: str, value: str, changed: bool, reason: str, actor: str, at: datetime
) -> PauseAudit:
    return PauseAudit(
        action=action, scope=kind, value=value, changed=changed, reason=reason, actor=actor, at=at
    )


def to_pause(record: PauseRecord) -> pb.Pause:
    pause = pb.Pause(scope=record.scope, value=record.value, reason=record.reason, paused_by=record.paused_by)
    at = record.paused_at
    pause.paused_at.FromDatetime(at if at.tzinfo is not None else at.replace(tzinfo=UTC))  # SQLite drops it
    return pause


class PausesMixin:
    _pauses: PauseStore

    def PauseAutomations(  # noqa: N802
        self, request: pb.PauseAutomationsRequest, context: grpc.ServicerContext
    ) -> pb.PauseAutomationsResponse:
        command = parse_or_abort(context, parse_pause_request, request)
        actor = current_caller() or ""
        added, pauses = guard_eventlog(context, lambda: self._pauses.pause(command, actor, datetime.now(UTC)))
        log.warning(
            "automations paused",
            extra={"scopes": [f"{k}:{v}" for k, v in command.scopes], "new_pauses": len(added)},
        )
        return pb.PauseAutomationsResponse(
            paused=[to_pause(r) for r in added], pauses=[to_pause(r) for r in pauses]
        )

    def ResumeAutomations(  # noqa: N802
        self, request: pb.ResumeAutomationsRequest, context: grpc.ServicerContext
    ) -> pb.ResumeAutomationsResponse:
        command = parse_or_abort(context, parse_pause_request, request)
        actor = current_caller() or ""
        lifted, pauses = guard_eventlog(
            context, lambda: self._pauses.resume(command, actor, datetime.now(UTC))
        )
        log.warning(
            "automations resumed",
            extra={"scopes": [f"{r.scope}:{r.value}" for r in lifted], "pauses_left": len(pauses)},
        )
        return pb.ResumeAutomationsResponse(
            resumed=[to_pause(r) for r in lifted], pauses=[to_pause(r) for r in pauses]
        )

    def ListPauses(  # noqa: N802
        self, request: pb.ListPausesRequest, context: grpc.ServicerContext
    ) -> pb.ListPausesResponse:
        pauses = guard_eventlog(context, self._pauses.current)
        return pb.ListPausesResponse(pauses=[to_pause(r) for r in pauses])
