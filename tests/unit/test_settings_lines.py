"""Unit tests for shared.settings_reader: bad templates and TOML fail at load time with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.automation_settings import load_automation_settings
from shared.errors import SettingsError
from shared.templates import VARIABLES


def error_of(tmp_path: Path, text: str) -> tuple[str, str]:
    """``(path, message)`` of loading ``text``."""
    path = tmp_path / "automations.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as excinfo:
        load_automation_settings(path)
    return str(path), str(excinfo.value)


def test_unknown_variable_reports_the_line_inside_its_table(tmp_path: Path) -> None:
    text = (
        'business_name = "Paws"\n'  # 1
        "# {clinet_name} in a comment before the table does not count\n"  # 2
        "[bookingConfirmation]\n"  # 3
        "enabled = true\n"  # 4
        "[bookingConfirmation.client]\n"  # 5
        "# neither does one in the table before the key: {clinet_name}\n"  # 6
        'subject = "Your booking is confirmed"\n'  # 7
        'body = """\\\n'  # 8
        "Hi {client_first_name},\n"  # 9
        'see you {start}, {clinet_name}!"""\n'  # 10
    )
    path, message = error_of(tmp_path, text)
    known = ", ".join(sorted(VARIABLES))
    assert message == (
        f"{path}:10: bookingConfirmation.client.body: unknown variable '{{clinet_name}}'; known: {known}"
    )


def test_unknown_variable_in_a_subject(tmp_path: Path) -> None:
    text = (
        'business_name = "Paws"\n'
        "[paymentReminder]\n"
        "before_start_s = 3600\n"
        "[paymentReminder.client]\n"
        'subject = "{amount} due"\n'
        'body = "Pay {amount_due}"\n'
    )
    path, message = error_of(tmp_path, text)
    assert message.startswith(f"{path}:5: paymentReminder.client.subject: unknown variable '{{amount}}'")


def test_dotted_keys_fall_back_to_the_type_table(tmp_path: Path) -> None:
    text = (
        'business_name = "Paws"\n'
        "[postVisitThankYou]\n"
        'client.subject = "Thanks"\n'
        'client.body = "Thanks {client_frist_name}"\n'
    )
    path, message = error_of(tmp_path, text)
    assert message.startswith(f"{path}:4: postVisitThankYou.client.body: unknown variable")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("at {start:%H}", "format spec"),
        ("at {start!r}", "format spec or conversion"),
        ("hi {pet_names[0]}", "unknown variable"),
        ("hi {client_first_name", "expected '}'"),
    ],
)
def test_other_template_errors_report_the_line(tmp_path: Path, body: str, expected: str) -> None:
    text = (
        'business_name = "Paws"\n'
        "[nightBeforeReminder.sitter]\n"
        'subject = "Tomorrow at {start}"\n'
        "\n"
        f'body = "{body}"\n'
    )
    path, message = error_of(tmp_path, text)
    assert message.startswith(f"{path}:5: nightBeforeReminder.sitter.body: "), message
    assert expected in message


def test_disabled_recipient_templates_are_still_checked(tmp_path: Path) -> None:
    text = 'business_name = "Paws"\n[sitterAssignment.sitter]\nenabled = false\nbody = "{sitter}"\n'
    path, message = error_of(tmp_path, text)
    assert message.startswith(f"{path}:4: sitterAssignment.sitter.body: unknown variable '{{sitter}}'")


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, 'business_name = "Paws"\n[quiet_hours\n')[1]
    assert message.startswith(f"{tmp_path / 'automations.toml'}:2: invalid TOML")


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nope.toml: cannot read"):
        load_automation_settings(tmp_path / "nope.toml")
