"""Pauses (PauseAutomations / ResumeAutomations): what a pause covers, and the pauses in force.

A pause has a scope: a type (``("type", "bookingConfirmation")``), a channel (``("channel", "sms")``) or
everything (``("all", "")``). The database table ``automation_pause`` (migration 0004) is the source of
truth: the trigger writes it (with an audit row per scope and call), every executor reads it every
``pause_refresh_s`` (executor_service/pauses.py). Pure matching here, one query for reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models import PauseRecord
from shared.vocabulary import CHANNEL_NAMES

SCOPE_TYPE, SCOPE_CHANNEL, SCOPE_ALL = "type", "channel", "all"
SCOPE_KINDS = (SCOPE_TYPE, SCOPE_CHANNEL, SCOPE_ALL)
# Channels a pause may name: "default" is not one (it resolves to AUTOMATION_DEFAULT_CHANNEL).
PAUSABLE_CHANNELS = tuple(sorted(CHANNEL_NAMES))
MAX_REASON_LEN = 500

Scope = tuple[str, str]  # (kind, value); value "" for SCOPE_ALL
EVERYTHING: Scope = (SCOPE_ALL, "")


@dataclass(frozen=True)
class PauseSet:
    """The scopes paused at one moment; answers which pause (if any) holds a job back."""

    scopes: frozenset[Scope] = frozenset()

    @classmethod
    def of(cls, scopes: Iterable[Scope]) -> PauseSet:
        return cls(frozenset(scopes))

    def __bool__(self) -> bool:
        return bool(self.scopes)

    def holding(self, automation_type: str, channel: str | None) -> Scope | None:
        """The pause that holds a job of ``automation_type`` sent over ``channel`` (None: unknown channel),
        most general first: everything, then the type, then the channel. None when nothing holds it."""
        if not self.scopes:
            return None
        for scope in (EVERYTHING, (SCOPE_TYPE, automation_type), (SCOPE_CHANNEL, channel or "")):
            if scope in self.scopes:
                return scope
        return None


def read_pauses(session: Session) -> list[PauseRecord]:
    """Every pause in force, oldest first."""
    query = select(PauseRecord).order_by(PauseRecord.paused_at, PauseRecord.scope, PauseRecord.value)
    return list(session.scalars(query))
