"""Unit tests for shared.due_times: due times per type, quiet hours, DST and far-from-UTC zones."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from shared.automation_settings import AutomationSettings, QuietHours, TypeSettings, load_automation_settings
from shared.due_times import defer_for_quiet_hours, effective_due_at, local_to_utc, scheduled_due_at

NY = ZoneInfo("America/New_York")  # 2027: DST starts Sun Mar 14 02:00, ends Sun Nov 7 02:00
QUIET = QuietHours(time(21), time(8))
NIGHT = TypeSettings(enabled=True, recipients={}, send_at_local=time(18))
SETTINGS = load_automation_settings()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


def night_before(start: datetime, tz: ZoneInfo, settings: TypeSettings = NIGHT) -> datetime | None:
    return scheduled_due_at("nightBeforeReminder", start, start + timedelta(hours=1), tz, settings)


# --- scheduled_due_at -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_local", "expected"),
    [
        # The evening before spring-forward Sunday is still EST; the next one is EDT.
        ((2027, 3, 14, 9, 0), utc(2027, 3, 13, 23, 0)),
        ((2027, 3, 15, 9, 0), utc(2027, 3, 14, 22, 0)),
        # Fall back: the evening before Sunday Nov 7 is EDT, Sunday evening EST.
        ((2027, 11, 7, 9, 0), utc(2027, 11, 6, 22, 0)),
        ((2027, 11, 8, 9, 0), utc(2027, 11, 7, 23, 0)),
        # A start just after midnight local: the day before is by the local date.
        ((2027, 6, 10, 0, 30), utc(2027, 6, 9, 22, 0)),
    ],
)
def test_night_before_reminder_new_york_across_dst(start_local: tuple[int, ...], expected: datetime) -> None:
    due = night_before(at(NY, *start_local).astimezone(UTC), NY)
    assert due == expected and due.tzinfo is UTC


@pytest.mark.parametrize(
    ("zone", "start_local", "expected"),
    [
        # UTC+14: the start is 2027-06-09 19:00 UTC, but the local day before is Jun 9 (04:00 UTC).
        ("Pacific/Kiritimati", (2027, 6, 10, 9, 0), utc(2027, 6, 9, 4, 0)),
        ("Pacific/Kiritimati", (2027, 6, 10, 1, 0), utc(2027, 6, 9, 4, 0)),
        # UTC-11: the start is 2027-06-11 07:00 UTC; the local day before (Jun 9) ends on Jun 10 UTC.
        ("Pacific/Pago_Pago", (2027, 6, 10, 20, 0), utc(2027, 6, 10, 5, 0)),
        # +05:45: the start is 2027-06-09 21:15 UTC; 18:00 local on Jun 9 is 12:15 UTC.
        ("Asia/Kathmandu", (2027, 6, 10, 3, 0), utc(2027, 6, 9, 12, 15)),
    ],
)
def test_night_before_reminder_far_from_utc(
    zone: str, start_local: tuple[int, ...], expected: datetime
) -> None:
    tz = ZoneInfo(zone)
    assert night_before(at(tz, *start_local).astimezone(UTC), tz) == expected


def test_night_before_reminder_at_a_time_that_does_not_exist_or_happens_twice() -> None:
    # 02:30 on Mar 14 2027 does not exist in New York: read with the EST offset it is 07:30 UTC (03:30 EDT).
    gap = dataclasses.replace(NIGHT, send_at_local=time(2, 30))
    assert night_before(at(NY, 2027, 3, 15, 9, 0), NY, gap) == utc(2027, 3, 14, 7, 30)
    # 01:30 on Nov 7 2027 happens twice: the first (EDT) is taken.
    twice = dataclasses.replace(NIGHT, send_at_local=time(1, 30))
    assert night_before(at(NY, 2027, 11, 8, 9, 0), NY, twice) == utc(2027, 11, 7, 5, 30)


def test_night_before_reminder_defaults_to_18_00_and_accepts_any_aware_input() -> None:
    unset = dataclasses.replace(NIGHT, send_at_local=None)
    assert night_before(at(NY, 2027, 3, 15, 9, 0), NY, unset) == utc(2027, 3, 14, 22, 0)
    assert night_before(at(ZoneInfo("Asia/Tokyo"), 2027, 3, 15, 22, 0), NY) == utc(2027, 3, 14, 22, 0)


def test_payment_reminder_is_an_absolute_duration_across_dst() -> None:
    settings = TypeSettings(enabled=True, recipients={}, before_start_s=48 * 3600)
    start = at(NY, 2027, 3, 15, 9, 0)  # EDT, 13:00 UTC
    for given in (start, start.astimezone(UTC)):
        due = scheduled_due_at("paymentReminder", given, given + timedelta(hours=2), NY, settings)
        assert due == utc(2027, 3, 13, 13, 0)  # 48 real hours: 08:00 EST on the wall clock
        assert due is not None and due.astimezone(NY).hour == 8
    default = dataclasses.replace(settings, before_start_s=None)
    assert scheduled_due_at("paymentReminder", start, start, NY, default) == utc(2027, 3, 13, 13, 0)


def test_post_visit_thank_you_after_the_end_across_fall_back() -> None:
    settings = TypeSettings(enabled=True, recipients={}, after_end_s=2 * 3600)
    end = at(NY, 2027, 11, 7, 0, 30)  # EDT, 04:30 UTC
    due = scheduled_due_at("postVisitThankYou", end - timedelta(hours=3), end, NY, settings)
    assert due == utc(2027, 11, 7, 6, 30)  # 01:30 EST: two real hours, one on the wall clock


@pytest.mark.parametrize("kind", ["ownerNewBookingAlert", "bookingConfirmation", "sitterAssignment"])
def test_immediate_types_have_no_scheduled_time(kind: str) -> None:
    start = utc(2027, 6, 10, 12)
    assert scheduled_due_at(kind, start, start, NY, SETTINGS.for_type(kind)) is None


def test_unknown_type_and_naive_datetimes_are_refused() -> None:
    start = utc(2027, 6, 10, 12)
    with pytest.raises(ValueError, match="unknown automation type"):
        scheduled_due_at("nightBeforeReminders", start, start, NY, NIGHT)
    with pytest.raises(ValueError, match="booking_start must be timezone-aware"):
        scheduled_due_at("nightBeforeReminder", datetime(2027, 6, 10, 12), start, NY, NIGHT)


# --- defer_for_quiet_hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when_local", "expected"),
    [
        ((2027, 6, 10, 22, 0), utc(2027, 6, 11, 12, 0)),  # 22:00 -> next day 08:00 EDT
        ((2027, 6, 10, 21, 0), utc(2027, 6, 11, 12, 0)),  # the start is inside
        ((2027, 6, 10, 7, 0), utc(2027, 6, 10, 12, 0)),  # 07:00 -> same day 08:00
        ((2027, 6, 10, 0, 0), utc(2027, 6, 10, 12, 0)),
        ((2027, 6, 10, 20, 59), utc(2027, 6, 11, 0, 59)),  # unchanged
        ((2027, 6, 10, 8, 0), utc(2027, 6, 10, 12, 0)),  # the end is outside: unchanged
        # DST nights: 08:00 local the next morning, 9 and 11 real hours later.
        ((2027, 3, 13, 23, 0), utc(2027, 3, 14, 12, 0)),
        ((2027, 11, 6, 22, 0), utc(2027, 11, 7, 13, 0)),
        ((2027, 11, 7, 1, 30), utc(2027, 11, 7, 13, 0)),
    ],
)
def test_defer_for_quiet_hours_new_york(when_local: tuple[int, ...], expected: datetime) -> None:
    deferred = defer_for_quiet_hours(at(NY, *when_local), NY, QUIET)
    assert deferred == expected and deferred.tzinfo is UTC


def test_defer_for_quiet_hours_far_east() -> None:
    tz = ZoneInfo("Pacific/Kiritimati")  # 22:00 Jun 10 local is 08:00 UTC the same day
    assert defer_for_quiet_hours(at(tz, 2027, 6, 10, 22), tz, QUIET) == utc(2027, 6, 10, 18, 0)


def test_defer_for_quiet_hours_non_wrapping_and_empty_windows() -> None:
    early = QuietHours(time(1), time(6))
    assert defer_for_quiet_hours(at(NY, 2027, 6, 10, 3), NY, early) == utc(2027, 6, 10, 10, 0)
    assert defer_for_quiet_hours(at(NY, 2027, 6, 10, 23), NY, early) == utc(2027, 6, 11, 3, 0)
    empty = QuietHours(time(8), time(8))
    assert defer_for_quiet_hours(at(NY, 2027, 6, 10, 23), NY, empty) == utc(2027, 6, 11, 3, 0)


def test_defer_to_an_end_that_does_not_exist_or_happens_twice() -> None:
    # Quiet until 02:30 on spring-forward night: 02:30 is read as EST, i.e. 03:30 EDT.
    gap = QuietHours(time(1), time(2, 30))
    assert defer_for_quiet_hours(at(NY, 2027, 3, 14, 1, 15), NY, gap) == utc(2027, 3, 14, 7, 30)
    # Quiet until 01:45 on fall-back night, at the second 01:30 (EST, 06:30 UTC): the first 01:45
    # (EDT, 05:45 UTC) is already past, so the second (EST, 06:45 UTC) is taken.
    twice = QuietHours(time(0), time(1, 45))
    second = at(NY, 2027, 11, 7, 1, 30).replace(fold=1)
    assert second.astimezone(UTC) == utc(2027, 11, 7, 6, 30)
    assert defer_for_quiet_hours(second, NY, twice) == utc(2027, 11, 7, 6, 45)
    assert defer_for_quiet_hours(at(NY, 2027, 11, 7, 1, 30), NY, twice) == utc(2027, 11, 7, 5, 45)


def test_local_to_utc_uses_fold() -> None:
    day = datetime(2027, 11, 7).date()
    assert local_to_utc(day, time(1, 30), NY) == utc(2027, 11, 7, 5, 30)
    assert local_to_utc(day, time(1, 30), NY, fold=1) == utc(2027, 11, 7, 6, 30)


# --- effective_due_at -----------------------------------------------------------------------------


def effective(
    kind: str, recipient: str, start: datetime, now: datetime, settings: AutomationSettings = SETTINGS
):
    return effective_due_at(kind, recipient, start, start + timedelta(hours=1), NY, settings, now)


def test_immediate_type_in_the_day_is_sent_now() -> None:
    now = at(NY, 2027, 6, 10, 12).astimezone(UTC)
    assert effective("bookingConfirmation", "client", now + timedelta(days=7), now) is None


def test_immediate_type_at_night_waits_for_the_morning_unless_exempt() -> None:
    now = at(NY, 2027, 6, 10, 23).astimezone(UTC)
    start = now + timedelta(days=7)
    assert effective("ownerNewBookingAlert", "client", start, now) == utc(2027, 6, 11, 12, 0)
    assert effective("ownerNewBookingAlert", "owner", start, now) is None


def test_scheduled_reminder_in_the_future() -> None:
    now = at(NY, 2027, 3, 1, 12).astimezone(UTC)
    start = at(NY, 2027, 3, 15, 9).astimezone(UTC)
    assert effective("nightBeforeReminder", "client", start, now) == utc(2027, 3, 14, 22, 0)
    assert effective("nightBeforeReminder", "sitter", start, now) == utc(2027, 3, 14, 22, 0)


def test_scheduled_time_already_past_is_now_or_the_end_of_quiet_hours() -> None:
    start = at(NY, 2027, 6, 11, 9).astimezone(UTC)  # reminder due Jun 10 18:00
    evening = at(NY, 2027, 6, 10, 19).astimezone(UTC)
    assert effective("nightBeforeReminder", "client", start, evening) is None
    late = at(NY, 2027, 6, 10, 22).astimezone(UTC)
    assert effective("nightBeforeReminder", "client", start, late) == utc(2027, 6, 11, 12, 0)


def test_thank_you_landing_in_quiet_hours_is_deferred_unless_the_recipient_is_exempt() -> None:
    now = at(NY, 2027, 6, 10, 12).astimezone(UTC)
    end = at(NY, 2027, 6, 10, 20, 30).astimezone(UTC)  # + 2 h = 22:30
    assert effective_due_at("postVisitThankYou", "client", end, end, NY, SETTINGS, now) == utc(
        2027, 6, 11, 12
    )
    kind = SETTINGS.for_type("postVisitThankYou")
    exempt_client = dataclasses.replace(kind.recipients["client"], quiet_hours=False)
    exempt = dataclasses.replace(kind, recipients=MappingProxyType({"client": exempt_client}))
    settings = dataclasses.replace(SETTINGS, types={**SETTINGS.types, "postVisitThankYou": exempt})
    assert effective_due_at("postVisitThankYou", "client", end, end, NY, settings, now) == utc(
        2027, 6, 11, 2, 30
    )


def test_due_exactly_now_is_none_and_results_are_utc() -> None:
    start = at(NY, 2027, 6, 12, 9).astimezone(UTC)
    due = at(NY, 2027, 6, 11, 18).astimezone(UTC)
    assert effective("nightBeforeReminder", "client", start, due) is None
    result = effective("nightBeforeReminder", "client", start, due - timedelta(seconds=1))
    assert result == due and result is not None and result.tzinfo is UTC


def test_recipient_left_out_observes_quiet_hours_and_naive_now_is_refused() -> None:
    now = at(NY, 2027, 6, 10, 23).astimezone(UTC)
    assert effective("bookingConfirmation", "owner", now, now) == utc(2027, 6, 11, 12, 0)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        effective("bookingConfirmation", "client", now, datetime(2027, 6, 10, 12))


@pytest.mark.parametrize(
    ("kind", "recipient", "zone", "start_local", "expected_local"),
    [
        # UTC+14: the payment reminder 48 h before a Monday 07:00 start lands at 07:00 Saturday local,
        # inside quiet hours, so it waits until 08:00; that is Friday 18:00 UTC.
        ("paymentReminder", "client", "Pacific/Kiritimati", (2027, 3, 15, 7, 0), (2027, 3, 13, 8, 0)),
        # UTC-11: a visit ending 19:30 local; thanks due 21:30, inside quiet hours: next day 08:00.
        ("postVisitThankYou", "client", "Pacific/Pago_Pago", (2027, 3, 15, 18, 30), (2027, 3, 16, 8, 0)),
        # UTC+5:45: the night before is a different UTC date than the local one.
        ("nightBeforeReminder", "sitter", "Asia/Kathmandu", (2027, 3, 15, 6, 0), (2027, 3, 14, 18, 0)),
    ],
)
def test_effective_due_times_far_from_utc(kind, recipient, zone, start_local, expected_local) -> None:
    tz = ZoneInfo(zone)
    start = at(tz, *start_local)
    due = effective_due_at(kind, recipient, start, start + timedelta(hours=1), tz, SETTINGS, utc(2027, 1, 1))
    assert due is not None and due.tzinfo == UTC
    assert due.astimezone(tz).replace(tzinfo=None) == datetime(*expected_local)
