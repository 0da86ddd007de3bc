"""The automation settings file (TOML): per type, who gets what, over which channel, and when.

``load_automation_settings()`` reads and validates the file once, at start-up; any mistake (unknown
type, recipient, channel or key, bad time, negative duration, missing or invalid template) raises
``SettingsError`` naming the file and, when it can be found, the line. The shipped, documented file
is ``shared/automations.toml``. A type left out of the file is disabled, as is a recipient left out
of its type. Parsing and line finding live in ``shared/settings_reader.py``.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.errors import SettingsError
from shared.names import AUTOMATION_TYPE_NAMES, RECIPIENT_NAMES, SERVED_RECIPIENTS
from shared.templates import Template
from shared.vocabulary import CHANNEL_NAMES, DEFAULT_CHANNEL

DEFAULT_SETTINGS_PATH: Path = Path(__file__).with_name("automations.toml")

CHANNELS = CHANNEL_NAMES | {DEFAULT_CHANNEL}  # what a recipient's channel may say
DEFAULT_QUIET_START = datetime.time(21, 0)
DEFAULT_QUIET_END = datetime.time(8, 0)
DEFAULT_SEND_AT_LOCAL = datetime.time(18, 0)  # nightBeforeReminder
DEFAULT_BEFORE_START_S = 48 * 3600  # paymentReminder
DEFAULT_AFTER_END_S = 2 * 3600  # postVisitThankYou
DEFAULT_MAX_LATENESS_S = 3600

# Type name -> names of the recipients it serves (from shared/names.py).
SERVED: Mapping[str, frozenset[str]] = {
    AUTOMATION_TYPE_NAMES[t]: frozenset(RECIPIENT_NAMES[r] for r in recipients)
    for t, recipients in SERVED_RECIPIENTS.items()
}
# The one timing key each time-based type has.
TIMING_KEYS: Mapping[str, str] = {
    "nightBeforeReminder": "send_at_local",
    "paymentReminder": "before_start_s",
    "postVisitThankYou": "after_end_s",
}


@dataclass(frozen=True)
class QuietHours:
    """A local wall-clock window, ``start`` inclusive, ``end`` exclusive; may wrap midnight."""

    start: datetime.time = DEFAULT_QUIET_START
    end: datetime.time = DEFAULT_QUIET_END

    def contains(self, local: datetime.time) -> bool:
        """True if the local wall time is inside the window; ``start == end`` is an empty window."""
        local = local.replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class RecipientSettings:
    enabled: bool
    channel: str  # one of CHANNELS; "default" = the env-configured AUTOMATION_DEFAULT_CHANNEL
    subject: Template
    body: Template
    quiet_hours: bool  # True: deferred out of quiet hours; False: exempt (urgent)


@dataclass(frozen=True)
class TypeSettings:
    enabled: bool
    recipients: Mapping[str, RecipientSettings]  # only configured recipients the type serves
    send_at_local: datetime.time | None = None  # nightBeforeReminder
    before_start_s: int | None = None  # paymentReminder
    after_end_s: int | None = None  # postVisitThankYou


@dataclass(frozen=True)
class Senders:
    sms_from: str = ""  # E.164 sender number for SMS
    email_from: str = ""  # e.g. "Happy Paws <hello@happypaws.example>"
    owner_phone: str = ""  # where owner alerts go
    owner_email: str = ""


@dataclass(frozen=True)
class RateLimit:
    """At most ``max`` sends per ``per_s`` seconds per sender, plus ``burst`` at once after a quiet spell:
    in any window of ``per_s`` seconds at most ``max + burst`` sends (executor_service/rate_limit.py)."""

    max: int
    per_s: float
    burst: int

    @property
    def interval_s(self) -> float:
        """The steady spacing between two sends."""
        return self.per_s / self.max


@dataclass(frozen=True)
class AutomationSettings:
    source: str  # the file path (for messages)
    business_name: str
    senders: Senders
    quiet_hours: QuietHours
    max_lateness_s: int  # a job due more than this in the past is rejected at enqueue / skipped at run
    types: Mapping[str, TypeSettings]  # all six types, by type name
    rate_limits: Mapping[str, RateLimit] = field(default_factory=dict)  # channel -> limit; absent: none
    # A job a pause held past max_lateness_s: "send" (the paused time is not lateness) or "skip" (late).
    pause_lateness: str = "send"

    def for_type(self, type_name: str) -> TypeSettings:
        try:
            return self.types[type_name]
        except KeyError:
            raise KeyError(f"unknown automation type {type_name!r}") from None

    def recipient(self, type_name: str, recipient_name: str) -> RecipientSettings | None:
        """The recipient's settings, or None if the type is unknown, does not serve it, or the file leaves
        it out."""
        kind = self.types.get(type_name)
        return kind.recipients.get(recipient_name) if kind is not None else None

    def sends(self, type_name: str, recipient_name: str) -> bool:
        """True if both the type and the recipient are enabled."""
        recipient = self.recipient(type_name, recipient_name)
        return self.for_type(type_name).enabled and recipient is not None and recipient.enabled


def load_automation_settings(path: Path | str | None = None) -> AutomationSettings:
    """Read and validate the settings file (default: the shipped one); raise SettingsError if it is wrong."""
    from shared.settings_reader import SettingsReader  # it imports the dataclasses above

    path = Path(path) if path is not None else DEFAULT_SETTINGS_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the automation settings: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"at line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise SettingsError(f"{where}: invalid TOML: {exc}") from exc
    return SettingsReader(path, text).settings(data)
