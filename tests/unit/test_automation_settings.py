"""Unit tests for shared.automation_settings: the shipped file, defaults and every load-time error."""

from __future__ import annotations

import dataclasses
from datetime import time
from pathlib import Path

import pytest

from executor_service.automations import variables
from shared.automation_settings import (
    DEFAULT_SETTINGS_PATH,
    AutomationSettings,
    QuietHours,
    load_automation_settings,
)
from shared.errors import SettingsError
from shared.names import RECIPIENT_NAMES, SERVED_RECIPIENTS, type_name
from tests.support.sample import sample_request

MINIMAL = 'business_name = "Paws"\n'
RECIPIENT = 'subject = "Hi"\nbody = "Hello {client_first_name}"\n'


def load(tmp_path: Path, text: str) -> AutomationSettings:
    path = tmp_path / "automations.toml"
    path.write_text(text)
    return load_automation_settings(path)


def load_error(tmp_path: Path, text: str) -> str:
    """The SettingsError message of loading ``text``, checked to start with the file's path."""
    with pytest.raises(SettingsError) as excinfo:
        load(tmp_path, text)
    message = str(excinfo.value)
    assert message.startswith(str(tmp_path / "automations.toml") + ":"), message
    return message


# --- the shipped file -----------------------------------------------------------------------------


def test_shipped_file_has_every_type_with_its_served_recipients() -> None:
    settings = load_automation_settings()
    assert settings.source == str(DEFAULT_SETTINGS_PATH)
    assert load_automation_settings(str(DEFAULT_SETTINGS_PATH)) == settings
    served = {type_name(t): {RECIPIENT_NAMES[r] for r in rs} for t, rs in SERVED_RECIPIENTS.items()}
    assert set(settings.types) == set(served) and len(served) == 6
    for name, recipients in served.items():
        assert settings.for_type(name).enabled
        assert set(settings.for_type(name).recipients) == recipients
        for recipient in recipients:
            assert settings.sends(name, recipient)
            spec = settings.recipient(name, recipient)
            assert spec is not None and spec.channel == "default"
            assert spec.quiet_hours == ((name, recipient) != ("ownerNewBookingAlert", "owner"))
            assert spec.subject.text and spec.body.text


def test_shipped_top_level_values_and_timings() -> None:
    settings = load_automation_settings()
    assert settings.business_name == "Happy Paws Pet Sitting"
    assert settings.senders.email_from == "Happy Paws <hello@happypaws.example>"
    assert settings.senders.sms_from.startswith("+") and settings.senders.owner_phone.startswith("+")
    assert settings.quiet_hours == QuietHours(time(21, 0), time(8, 0))
    assert settings.max_lateness_s == 3600
    assert settings.pause_lateness == "send"
    assert settings.for_type("nightBeforeReminder").send_at_local == time(18, 0)
    assert settings.for_type("paymentReminder").before_start_s == 48 * 3600
    assert settings.for_type("postVisitThankYou").after_end_s == 2 * 3600
    assert settings.for_type("bookingConfirmation").send_at_local is None
    assert settings.for_type("bookingConfirmation").before_start_s is None


@pytest.mark.parametrize(
    ("kind", "recipient", "subject", "body"),
    [
        (
            "ownerNewBookingAlert",
            "client",
            "We got your booking request",
            "Hi {client_first_name}, thanks for booking {service_name} for {pet_names} with {business_name}, "
            "{start} to {end}. We'll confirm shortly.",
        ),
        (
            "ownerNewBookingAlert",
            "owner",
            "New booking request from {client_name}",
            "New booking {booking_id}: {client_name} requests {service_name} for {pet_names}, "
            "{start} to {end}. Total {amount_due}.",
        ),
        (
            "bookingConfirmation",
            "client",
            "Your booking is confirmed",
            "Hi {client_first_name}, your {service_name} for {pet_names} is confirmed: {start} to {end}. "
            "Total {amount_due}. - {business_name}",
        ),
    ],
)
def test_shipped_texts_of_the_first_implemented_pairs_are_unchanged(
    kind: str, recipient: str, subject: str, body: str
) -> None:
    spec = load_automation_settings().recipient(kind, recipient)
    assert spec is not None and (spec.subject.text, spec.body.text) == (subject, body)


def test_every_shipped_template_renders_completely() -> None:
    settings = load_automation_settings()
    values = variables(sample_request("bk-1").booking, settings.business_name) | {"sitter_name": "Sam Lee"}
    for kind, type_settings in settings.types.items():
        for spec in type_settings.recipients.values():
            for text in (spec.subject.render(values), spec.body.render(values)):
                assert text and "{" not in text and "}" not in text, (kind, text)
    reminder = settings.recipient("nightBeforeReminder", "client")
    assert reminder is not None and "Rex, Milo and Luna" in reminder.body.render(values)
    payment = settings.recipient("paymentReminder", "client")
    assert payment is not None and "$120.00" in payment.body.render(values)


# --- defaults, disabled, immutability -------------------------------------------------------------


def test_minimal_file_gets_defaults_and_disables_every_type(tmp_path: Path) -> None:
    settings = load(tmp_path, MINIMAL)
    assert settings.quiet_hours == QuietHours(time(21, 0), time(8, 0))
    assert settings.max_lateness_s == 3600
    assert settings.senders.sms_from == "" and settings.senders.owner_email == ""
    assert len(settings.types) == 6
    assert not any(t.enabled or t.recipients for t in settings.types.values())
    assert settings.for_type("nightBeforeReminder").send_at_local == time(18, 0)
    assert settings.recipient("bookingConfirmation", "client") is None
    assert not settings.sends("bookingConfirmation", "client")


def test_disabled_type_and_recipient_parse(tmp_path: Path) -> None:
    text = MINIMAL + (
        "[sitterAssignment]\nenabled = false\n[sitterAssignment.sitter]\n"
        + RECIPIENT
        + '[sitterAssignment.client]\nenabled = false\nchannel = "sms"\nquiet_hours = false\n'
    )
    settings = load(tmp_path, text)
    kind = settings.for_type("sitterAssignment")
    assert not kind.enabled and set(kind.recipients) == {"sitter", "client"}
    assert kind.recipients["sitter"].enabled and not settings.sends("sitterAssignment", "sitter")
    client = kind.recipients["client"]
    assert (client.enabled, client.channel, client.quiet_hours) == (False, "sms", False)
    assert client.subject.text == "" and client.body.text == ""


def test_toml_local_times_are_accepted(tmp_path: Path) -> None:
    text = MINIMAL + "[quiet_hours]\nstart = 22:30:00\nend = 07:15:00\n"
    assert load(tmp_path, text).quiet_hours == QuietHours(time(22, 30), time(7, 15))


def test_settings_are_immutable() -> None:
    settings = load_automation_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_lateness_s = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.types["bookingConfirmation"] = settings.types["paymentReminder"]  # type: ignore[index]
    with pytest.raises(KeyError, match="bookingConfirmaton"):
        settings.for_type("bookingConfirmaton")


@pytest.mark.parametrize(
    ("start", "end", "inside", "outside"),
    [
        (
            time(21),
            time(8),
            [time(21), time(23, 59), time(0), time(7, 59, 59)],
            [time(8), time(20, 59), time(12)],
        ),
        (time(1), time(6), [time(1), time(5, 59)], [time(0, 59), time(6), time(23)]),
        (time(8), time(8), [], [time(8), time(0), time(23)]),
    ],
)
def test_quiet_hours_contains(start: time, end: time, inside: list[time], outside: list[time]) -> None:
    quiet = QuietHours(start, end)
    assert all(quiet.contains(t) for t in inside)
    assert not any(quiet.contains(t) for t in outside)


# --- errors ---------------------------------------------------------------------------------------

TYPE_CLIENT = "[bookingConfirmation.client]\n"


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        ("[bookingConfirmaton]\nenabled = true\n", "unknown automation type 'bookingConfirmaton'", 2),
        ("bookingConfirmation = true\n", "bookingConfirmation: expected a table", 2),
        ("[bookingConfirmation.owner]\n" + RECIPIENT, "does not serve 'owner'; it serves: client", 2),
        (
            "[ownerNewBookingAlert.sitter]\n" + RECIPIENT,
            "does not serve 'sitter'; it serves: client, owner",
            2,
        ),
        ("[bookingConfirmation.clients]\n" + RECIPIENT, "unknown key 'clients'", 2),
        ('[bookingConfirmation]\nclient = "x"\n', "bookingConfirmation.client: expected a table", 3),
        (TYPE_CLIENT + 'channel = "smss"\n' + RECIPIENT, "unknown channel 'smss'", 3),
        (TYPE_CLIENT + "quite_hours = true\n" + RECIPIENT, "unknown key 'quite_hours'", 3),
        (TYPE_CLIENT + 'enabled = "yes"\n' + RECIPIENT, "enabled: expected true or false", 3),
        ("[bookingConfirmation]\nenabeld = true\n", "unknown key 'enabeld'", 3),
        ('[bookingConfirmation]\nsend_at_local = "18:00"\n', "unknown key 'send_at_local'", 3),
        ("[paymentReminder]\nbefore_start = 10\n", "unknown key 'before_start'", 3),
        ('busines_name = "x"\n', "unknown key 'busines_name'", 2),
        ('[senders]\nsms_form = "+14155550100"\n', "senders.sms_form: unknown key", 3),
        ('senders = "x"\n', "senders: expected a table", 2),
        ('[quiet_hours]\nstrat = "21:00"\n', "quiet_hours.strat: unknown key", 3),
        ('[quiet_hours]\nstart = "9pm"\n', "quiet_hours.start: bad time '9pm'", 3),
        ('[quiet_hours]\nend = "25:00"\n', "quiet_hours.end: bad time '25:00'", 3),
        ('[quiet_hours]\nend = "07:60"\n', "bad time '07:60'", 3),
        ('[quiet_hours]\nend = "7:00"\n', "bad time '7:00'", 3),
        ("[quiet_hours]\nend = 700\n", "bad time 700", 3),
        ('[nightBeforeReminder]\nsend_at_local = "18:00:00"\n', "send_at_local: bad time", 3),
        ("[paymentReminder]\nbefore_start_s = -1\n", "before_start_s: must not be negative", 3),
        ("[postVisitThankYou]\nafter_end_s = -60\n", "after_end_s: must not be negative", 3),
        ("[paymentReminder]\nbefore_start_s = 1.5\n", "before_start_s: expected an integer", 3),
        ("max_lateness_s = -1\n", "max_lateness_s: must not be negative", 2),
        ("max_lateness_s = true\n", "max_lateness_s: expected an integer", 2),
        ('pause_lateness = "drop"\n', 'pause_lateness: expected "send" or "skip"', 2),
        ("pause_lateness = 1\n", "pause_lateness: expected a string", 2),
        (TYPE_CLIENT + 'subject = "Hi"\n', "bookingConfirmation.client.body: missing template", 2),
        (TYPE_CLIENT + 'body = "Hi"\n', "bookingConfirmation.client.subject: missing template", 2),
        (TYPE_CLIENT + 'subject = "Hi"\nbody = "  "\n', "body: empty template", 4),
        (TYPE_CLIENT + "subject = 3\nbody = 'x'\n", "subject: expected a string", 3),
        ('[senders]\nowner_phone = "415-555-0100"\n', "senders.owner_phone: expected an E.164 number", 3),
        # The trigger's phone rule (shared/vocabulary.py): 7-15 ASCII digits after the '+'.
        ('[senders]\nsms_from = "+12345"\n', "senders.sms_from: expected an E.164 number", 3),
        ('[senders]\nsms_from = "+1415555\u0660123"\n', "senders.sms_from: expected an E.164 number", 3),
        ('[senders]\nemail_from = "Happy Paws"\n', "senders.email_from: expected an email address", 3),
        ('[senders]\nowner_email = "x<evil@attacker.example"\n', "owner_email: expected an email", 3),
        ('[senders]\nowner_email = "Owner <o@example.com>"\n', "owner_email: expected an email", 3),
        ('[senders]\nemail_from = "P <a@example.com%0d%0aBcc:x>"\n', "email_from: expected an email", 3),
        ('[senders]\nemail_from = "P\\r\\nBcc: x <a@example.com>"\n', "email_from: expected an email", 3),
    ],
)
def test_invalid_settings_name_file_line_and_problem(
    tmp_path: Path, text: str, expected: str, line: int
) -> None:
    message = load_error(tmp_path, MINIMAL + text)
    assert message.startswith(f"{tmp_path / 'automations.toml'}:{line}: "), message
    assert expected in message


def test_missing_or_empty_business_name(tmp_path: Path) -> None:
    assert "business_name: missing" in load_error(tmp_path, "max_lateness_s = 10\n")
    assert "business_name: must not be empty" in load_error(tmp_path, 'business_name = " "\n')
