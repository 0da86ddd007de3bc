"""Validation of a parsed automation settings file, with errors that name the file and line.

tomllib gives no positions, so a line is found by searching the raw text: the header of the table
concerned (``[bookingConfirmation.client]``, else its parent's), then the key's ``name =`` line
after it, and for a template error the offending ``{name`` after that (falling back to its first
occurrence in the file). Use ``shared.automation_settings.load_automation_settings``, not this.
"""

from __future__ import annotations

import datetime
import re
import string
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from shared.automation_settings import (
    CHANNELS,
    DEFAULT_AFTER_END_S,
    DEFAULT_BEFORE_START_S,
    DEFAULT_MAX_LATENESS_S,
    DEFAULT_QUIET_END,
    DEFAULT_QUIET_START,
    DEFAULT_SEND_AT_LOCAL,
    SERVED,
    TIMING_KEYS,
    AutomationSettings,
    QuietHours,
    RateLimit,
    RecipientSettings,
    Senders,
    TypeSettings,
)
from shared.contacts import InvalidAddress, email_address, mailbox
from shared.errors import SettingsError, TemplateError
from shared.templates import VARIABLES, Template
from shared.vocabulary import RATE_LIMITED_CHANNELS, is_phone

Table = tuple[str, ...]
_REQUIRED: Any = object()
_TOP_KEYS = frozenset(
    {"business_name", "max_lateness_s", "pause_lateness", "senders", "quiet_hours", "rate_limits"}
)
_SENDER_KEYS = frozenset({"sms_from", "email_from", "owner_phone", "owner_email"})
_QUIET_KEYS = frozenset({"start", "end"})
_RECIPIENT_KEYS = frozenset({"enabled", "channel", "quiet_hours", "subject", "body"})
_ALL_RECIPIENTS = frozenset().union(*SERVED.values())
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_RATE = re.compile(r"\s*([1-9]\d*)\s*/\s*([1-9]\d*)?\s*(s|min|h)\s*")
_PERIOD_S = {"s": 1, "min": 60, "h": 3600}
_RATE_HELP = 'expected "<max>/<period>" with a period in s, min or h (e.g. "1/s", "30/min", "5/10s")'


def _header(table: Table) -> re.Pattern[str]:
    parts = r"\s*\.\s*".join(rf'"?{re.escape(part)}"?' for part in table)
    return re.compile(rf"^[ \t]*\[[ \t]*{parts}[ \t]*\]", re.MULTILINE)


def _key_line(key: str) -> re.Pattern[str]:
    return re.compile(rf'^[ \t]*"?{re.escape(key)}"?[ \t]*=', re.MULTILINE)


def _offending_field(text: str) -> str | None:
    """The ``{name`` Template refuses first, as written in the file, or None if not locatable."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if conversion:
            return f"{{{field}!"
        if spec:
            return f"{{{field}:"
        if field not in VARIABLES:
            return f"{{{field}}}"
    return None


class SettingsReader:
    """Turns the dict tomllib parsed from ``path`` into AutomationSettings, or raises SettingsError."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    # --- locating and reporting -----------------------------------------------------------------

    def _where(self, table: Table, key: str | None = None, needle: str | None = None) -> str:
        pos, found = 0, False
        for depth in range(len(table), 0, -1):
            match = _header(table[:depth]).search(self.text)
            if match:
                pos, found = match.start(), True
                break
        if key is not None:
            match = _header((*table, key)).search(self.text) or _key_line(key).search(self.text, pos)
            if match:
                pos, found = match.start(), True
        if needle is not None:
            index = self.text.find(needle, pos)
            index = index if index >= 0 else self.text.find(needle)
            if index >= 0:
                pos, found = index, True
        return f"{self.path}:{self.text.count(chr(10), 0, pos) + 1}" if found else str(self.path)

    def fail(self, table: Table, key: str | None, message: str) -> NoReturn:
        name = ".".join((*table, key) if key is not None else table)
        raise SettingsError(f"{self._where(table, key)}: {name + ': ' if name else ''}{message}")

    # --- typed values ---------------------------------------------------------------------------

    def _value(self, table: Table, data: dict[str, Any], key: str, kind: type, default: Any) -> Any:
        if key not in data:
            if default is _REQUIRED:
                self.fail(table, key, "missing")
            return default
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = {bool: "true or false", int: "an integer", str: "a string", dict: "a table"}[kind]
            self.fail(table, key, f"expected {expected}, got {value!r}")
        return value

    def _check_keys(self, table: Table, data: dict[str, Any], known: Iterable[str]) -> None:
        known = sorted(known)
        for key in data:
            if key not in known:
                self.fail(table, key, f"unknown key '{key}'; known: {', '.join(known)}")

    def _duration(self, table: Table, data: dict[str, Any], key: str, default: int) -> int:
        value = self._value(table, data, key, int, default)
        if value < 0:
            self.fail(table, key, f"must not be negative, got {value}")
        return value

    def _time(self, table: Table, data: dict[str, Any], key: str, default: datetime.time) -> datetime.time:
        value = data.get(key, default)
        if isinstance(value, datetime.time) and value.tzinfo is None:
            return value  # a TOML local time (18:00:00), or the default
        if isinstance(value, str) and (match := _TIME.fullmatch(value)):
            return datetime.time(int(match.group(1)), int(match.group(2)))
        self.fail(table, key, f'bad time {value!r}; expected "HH:MM" (24-hour, e.g. "18:00")')

    # --- tables ---------------------------------------------------------------------------------

    def settings(self, data: dict[str, Any]) -> AutomationSettings:
        for key, value in data.items():
            if key not in _TOP_KEYS and key not in SERVED:
                if isinstance(value, dict):
                    self.fail((), key, f"unknown automation type '{key}'; known: {', '.join(sorted(SERVED))}")
                self.fail((), key, f"unknown key '{key}'; known: {', '.join(sorted(_TOP_KEYS))}")
        business_name = self._value((), data, "business_name", str, _REQUIRED)
        if not business_name.strip():
            self.fail((), "business_name", "must not be empty")
        pause_lateness = self._value((), data, "pause_lateness", str, "send")
        if pause_lateness not in ("send", "skip"):
            self.fail((), "pause_lateness", f'expected "send" or "skip", got {pause_lateness!r}')
        return AutomationSettings(
            source=str(self.path),
            business_name=business_name,
            senders=self._senders(self._value((), data, "senders", dict, {})),
            quiet_hours=self._quiet_hours(self._value((), data, "quiet_hours", dict, {})),
            max_lateness_s=self._duration((), data, "max_lateness_s", DEFAULT_MAX_LATENESS_S),
            types=MappingProxyType({name: self._type(name, data) for name in sorted(SERVED)}),
            rate_limits=self._rate_limits(self._value((), data, "rate_limits", dict, {})),
            pause_lateness=pause_lateness,
        )

    def _rate_limits(self, data: dict[str, Any]) -> MappingProxyType[str, RateLimit]:
        table = ("rate_limits",)
        self._check_keys(table, data, RATE_LIMITED_CHANNELS)
        return MappingProxyType({channel: self._rate_limit(table, data, channel) for channel in sorted(data)})

    def _rate_limit(self, table: Table, data: dict[str, Any], channel: str) -> RateLimit:
        """``"<max>/<period>"`` (burst = max), or ``{ rate = "<max>/<period>", burst = <n> }``."""
        value = data[channel]
        spec = value if isinstance(value, dict) else {"rate": value}
        if isinstance(value, dict):
            self._check_keys((*table, channel), value, {"rate", "burst"})
        rate = spec.get("rate")
        match = _RATE.fullmatch(rate) if isinstance(rate, str) else None
        if match is None:
            self.fail(table, channel, f"bad rate {rate!r}; {_RATE_HELP}")
        limit = int(match.group(1))
        per_s = float(int(match.group(2) or 1) * _PERIOD_S[match.group(3)])
        burst = spec.get("burst", limit)
        if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
            self.fail(table, channel, f"burst must be a whole number of sends, at least 1, got {burst!r}")
        return RateLimit(max=limit, per_s=per_s, burst=burst)

    def _senders(self, data: dict[str, Any]) -> Senders:
        table = ("senders",)
        self._check_keys(table, data, _SENDER_KEYS)
        values = {key: self._value(table, data, key, str, "") for key in sorted(_SENDER_KEYS)}
        for key in ("sms_from", "owner_phone"):
            if values[key] and not is_phone(values[key]):
                self.fail(table, key, f'expected an E.164 number like "+14155550100", got {values[key]!r}')
        # shared/contacts.py: the rule the trigger validates with and the e-mail channel sends by
        for key, parse in (("email_from", mailbox), ("owner_email", email_address)):
            try:
                if values[key]:
                    parse(values[key])
            except InvalidAddress as exc:
                named = ' or "Name <name@example.com>"' if key == "email_from" else ""
                self.fail(table, key, f'expected an email address ("name@example.com"{named}); it {exc}')
        return Senders(**values)

    def _quiet_hours(self, data: dict[str, Any]) -> QuietHours:
        table = ("quiet_hours",)
        self._check_keys(table, data, _QUIET_KEYS)
        return QuietHours(
            start=self._time(table, data, "start", DEFAULT_QUIET_START),
            end=self._time(table, data, "end", DEFAULT_QUIET_END),
        )

    def _type(self, name: str, root: dict[str, Any]) -> TypeSettings:
        table = (name,)
        present = name in root
        data = self._value((), root, name, dict, {})
        served = SERVED[name]
        for key in data:
            if key in _ALL_RECIPIENTS and key not in served:
                self.fail(
                    table, key, f"{name} does not serve '{key}'; it serves: {', '.join(sorted(served))}"
                )
        timing = TIMING_KEYS.get(name)
        self._check_keys(table, data, {"enabled", *served, *([timing] if timing else [])})
        recipients = {
            recipient: self._recipient(name, recipient, self._value(table, data, recipient, dict, _REQUIRED))
            for recipient in sorted(served)
            if recipient in data
        }
        return TypeSettings(
            enabled=present and self._value(table, data, "enabled", bool, True),
            recipients=MappingProxyType(recipients),
            send_at_local=self._time(table, data, timing, DEFAULT_SEND_AT_LOCAL)
            if timing == "send_at_local"
            else None,
            before_start_s=self._duration(table, data, timing, DEFAULT_BEFORE_START_S)
            if timing == "before_start_s"
            else None,
            after_end_s=self._duration(table, data, timing, DEFAULT_AFTER_END_S)
            if timing == "after_end_s"
            else None,
        )

    def _recipient(self, type_name: str, name: str, data: dict[str, Any]) -> RecipientSettings:
        table = (type_name, name)
        self._check_keys(table, data, _RECIPIENT_KEYS)
        enabled = self._value(table, data, "enabled", bool, True)
        channel = self._value(table, data, "channel", str, "default")
        if channel not in CHANNELS:
            self.fail(table, "channel", f"unknown channel '{channel}'; known: {', '.join(sorted(CHANNELS))}")
        return RecipientSettings(
            enabled=enabled,
            channel=channel,
            subject=self._template(table, data, "subject", enabled),
            body=self._template(table, data, "body", enabled),
            quiet_hours=self._value(table, data, "quiet_hours", bool, True),
        )

    def _template(self, table: Table, data: dict[str, Any], key: str, required: bool) -> Template:
        origin = ".".join((*table, key))
        if key not in data and required:
            self.fail(table, key, "missing template (required while the recipient is enabled)")
        text = self._value(table, data, key, str, "")
        if required and key == "body" and not text.strip():
            self.fail(table, key, "empty template (required while the recipient is enabled)")
        try:
            return Template(text, origin=origin)
        except TemplateError as exc:
            where = self._where(table, key, _offending_field(text))
            raise SettingsError(f"{where}: {exc}") from exc
