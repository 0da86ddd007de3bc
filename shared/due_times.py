"""When an automation is due: scheduled times per type and quiet-hours deferral (pure, DST-correct).

All datetimes are timezone-aware; results are in UTC. Wall-clock times ("18:00 the evening before",
"08:00 when quiet hours end") are built in the booking's zone with zoneinfo, never by adding 24 h,
so they stay at the same local time across DST changes. Durations (``before_start_s``,
``after_end_s``) are absolute: 48 h before is 48 real hours, whatever the clocks do.

Local times that do not exist or happen twice are resolved with PEP 495's ``fold=0``:

* in a spring-forward gap (02:30 on a day clocks jump 02:00 -> 03:00) the wall time is read with the
  offset in force before the jump, so it lands at the instant the clocks show 03:30;
* in a fall-back repeat (01:30 happens twice) the first occurrence (still on summer time) is used,
  except in quiet-hours deferral, where the second is used if the first is not after the time
  being deferred (a deferral never moves a send earlier).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.automation_settings import (
    DEFAULT_AFTER_END_S,
    DEFAULT_BEFORE_START_S,
    DEFAULT_SEND_AT_LOCAL,
    SERVED,
    AutomationSettings,
    QuietHours,
    TypeSettings,
)

NIGHT_BEFORE_REMINDER = "nightBeforeReminder"
PAYMENT_REMINDER = "paymentReminder"
POST_VISIT_THANK_YOU = "postVisitThankYou"


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def local_to_utc(day: date, wall: time, tz: ZoneInfo, *, fold: int = 0) -> datetime:
    """The UTC instant of the wall time ``wall`` on ``day`` in ``tz`` (see the module doc for ``fold``)."""
    local = datetime.combine(day, wall.replace(tzinfo=None, fold=fold), tzinfo=tz)
    return local.astimezone(UTC)


def scheduled_due_at(
    type_name: str, booking_start: datetime, booking_end: datetime, tz: ZoneInfo, settings: TypeSettings
) -> datetime | None:
    """When a time-based type is due (aware UTC), or None for the types that are sent at once.

    nightBeforeReminder: ``send_at_local`` on the calendar day before the start's local date;
    paymentReminder: ``before_start_s`` before the start; postVisitThankYou: ``after_end_s`` after the end.
    Raises ValueError for an unknown type name or a naive datetime.
    """
    start = _aware("booking_start", booking_start)
    end = _aware("booking_end", booking_end)
    if type_name == NIGHT_BEFORE_REMINDER:
        wall = settings.send_at_local if settings.send_at_local is not None else DEFAULT_SEND_AT_LOCAL
        return local_to_utc(start.astimezone(tz).date() - timedelta(days=1), wall, tz)
    if type_name == PAYMENT_REMINDER:
        before = settings.before_start_s if settings.before_start_s is not None else DEFAULT_BEFORE_START_S
        return start - timedelta(seconds=before)
    if type_name == POST_VISIT_THANK_YOU:
        after = settings.after_end_s if settings.after_end_s is not None else DEFAULT_AFTER_END_S
        return end + timedelta(seconds=after)
    if type_name in SERVED:
        return None
    raise ValueError(f"unknown automation type {type_name!r}")


def defer_for_quiet_hours(when: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """``when`` (as UTC) if it is outside quiet hours in ``tz``, else the next time quiet hours end.

    The next end is the same local day when ``when`` is before ``quiet.end`` (the after-midnight
    part of the window), else the next local day.
    """
    when = _aware("when", when)
    local = when.astimezone(tz)
    if not quiet.contains(local.time()):
        return when
    day = local.date() if local.time() < quiet.end else local.date() + timedelta(days=1)
    for fold in (0, 1):
        end = local_to_utc(day, quiet.end, tz, fold=fold)
        if end > when:
            return end
    return when  # not reached: the end of the window is always after a time inside it


def effective_due_at(
    type_name: str,
    recipient_name: str,
    booking_start: datetime,
    booking_end: datetime,
    tz: ZoneInfo,
    automations: AutomationSettings,
    now: datetime,
) -> datetime | None:
    """When to send to this recipient: None for "now", else the aware UTC due time.

    The scheduled time (``now`` for immediate types, and for a scheduled time already past) is
    deferred out of quiet hours if the recipient observes them. A recipient the settings leave out
    (disabled; the executor skips its jobs) observes them, the default. Enabled or not is not
    checked here. Raises KeyError for an unknown type name.
    """
    now = _aware("now", now)
    recipient = automations.recipient(type_name, recipient_name)
    scheduled = scheduled_due_at(type_name, booking_start, booking_end, tz, automations.for_type(type_name))
    due = now if scheduled is None else max(scheduled, now)
    if recipient is None or recipient.quiet_hours:
        due = defer_for_quiet_hours(due, tz, automations.quiet_hours)
    return None if due <= now else due
