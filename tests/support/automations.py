"""Automation settings files for tests, derived from the shipped one."""

from __future__ import annotations

import re
from pathlib import Path

from shared.automation_settings import DEFAULT_SETTINGS_PATH

_TABLE = re.compile(r"^\[(\w+)\.(\w+)\]\s*$")
_QUIET = 'start = "21:00"\nend = "08:00"'


def settings_file(
    path: Path,
    *,
    channels: dict[str, str] | None = None,
    quiet_hours: bool = True,
    replace: dict[str, str] | None = None,
) -> Path:
    """Write a copy of the shipped settings to ``path``: ``channels`` maps a recipient name (client,
    owner, sitter) to its channel in every type; ``quiet_hours=False`` empties the window; ``replace``
    substitutes exact text (it must be there)."""
    text = DEFAULT_SETTINGS_PATH.read_text()
    assert _QUIET in text, "the shipped quiet hours changed: update tests/support/automations.py"
    if not quiet_hours:
        text = text.replace(_QUIET, 'start = "00:00"\nend = "00:00"')
    for old, new in (replace or {}).items():
        assert old in text, f"not in the shipped settings: {old!r}"
        text = text.replace(old, new)
    if channels:
        lines, recipient = [], None
        for line in text.splitlines():
            if line.startswith("["):
                match = _TABLE.match(line)
                recipient = match.group(2) if match else None
            if recipient in channels and line.startswith('channel = "default"'):
                line = f'channel = "{channels[recipient]}"'
            lines.append(line)
        text = "\n".join(lines) + "\n"
    path.write_text(text)
    return path
