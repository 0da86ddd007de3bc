"""The [rate_limits] table of automations.toml: its syntax, defaults and "<file>:<line>:" errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.automation_settings import RateLimit, load_automation_settings
from shared.errors import SettingsError

MINIMAL = 'business_name = "Paws"\n'


def load(tmp_path: Path, text: str):
    path = tmp_path / "automations.toml"
    path.write_text(MINIMAL + text)
    return load_automation_settings(path)


def test_no_limit_by_default(tmp_path: Path) -> None:
    assert load(tmp_path, "").rate_limits == {}
    assert load_automation_settings().rate_limits == {}  # the shipped file limits nothing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('sms = "1/s"', RateLimit(max=1, per_s=1.0, burst=1)),
        ('email = "30/min"', RateLimit(max=30, per_s=60.0, burst=30)),
        ('webhook = "5/10s"', RateLimit(max=5, per_s=10.0, burst=5)),
        ('sms = " 100 / h "', RateLimit(max=100, per_s=3600.0, burst=100)),
        ('sms = { rate = "10/s", burst = 2 }', RateLimit(max=10, per_s=1.0, burst=2)),
        ('sms = { rate = "2/min" }', RateLimit(max=2, per_s=60.0, burst=2)),
    ],
)
def test_rate_syntax(tmp_path: Path, text: str, expected: RateLimit) -> None:
    limits = load(tmp_path, f"[rate_limits]\n{text}\n").rate_limits
    assert list(limits.values()) == [expected]
    assert expected.interval_s == expected.per_s / expected.max


def test_sub_table_form_and_several_channels(tmp_path: Path) -> None:
    text = '[rate_limits]\nemail = "1/s"\n\n[rate_limits.sms]\nrate = "3/s"\nburst = 1\n'
    limits = load(tmp_path, text).rate_limits
    assert dict(limits) == {"email": RateLimit(1, 1.0, 1), "sms": RateLimit(3, 1.0, 1)}


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ('[rate_limits]\nfax = "1/s"\n', 3, "rate_limits.fax: unknown key 'fax'; known: email, sms, webhook"),
        ('[rate_limits]\nlog = "1/s"\n', 3, "unknown key 'log'"),
        ('[rate_limits]\nsms = "1 per second"\n', 3, "rate_limits.sms: bad rate '1 per second'; expected"),
        ('[rate_limits]\nsms = "0/s"\n', 3, "bad rate '0/s'"),
        ('[rate_limits]\nsms = "1/0s"\n', 3, "bad rate '1/0s'"),
        ('[rate_limits]\nsms = "1/day"\n', 3, "bad rate '1/day'"),
        ("[rate_limits]\nsms = 5\n", 3, "bad rate 5"),
        ("[rate_limits]\n\nsms = { burst = 2 }\n", 4, "bad rate None"),
        ('[rate_limits]\nsms = { rate = "1/s", burst = 0 }\n', 3, "burst must be a whole number"),
        ('[rate_limits]\nsms = { rate = "1/s", burst = true }\n', 3, "burst must be a whole number"),
        ('[rate_limits]\nsms = { rate = "1/s", bursts = 2 }\n', 2, "rate_limits.sms.bursts: unknown key"),
        ('[rate_limits.sms]\nrate = "1/s"\nmax = 2\n', 4, "rate_limits.sms.max: unknown key 'max'"),
        ('rate_limits = "1/s"\n', 2, "rate_limits: expected a table"),
    ],
)
def test_bad_rate_limits_name_file_line_and_problem(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    with pytest.raises(SettingsError) as excinfo:
        load(tmp_path, text)
    message = str(excinfo.value)
    assert message.startswith(f"{tmp_path / 'automations.toml'}:{line}: "), message
    assert expected in message, message
