"""The rules of the mypy setup that mypy itself does not enforce (README "Tests", `make lint`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[a-z0-9-]+(?:,\s*[a-z0-9-]+)*\])?")


def _mypy_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def _checked_files() -> list[Path]:
    files = []
    for package in _mypy_config()["files"]:
        files += [p for p in (ROOT / package).rglob("*.py") if "proto" not in p.relative_to(ROOT).parts[:2]]
    return files


def test_mypy_checks_the_three_packages_with_annotations_required():
    config = _mypy_config()
    assert {"trigger_service", "executor_service", "shared"} <= set(config["files"])
    assert config["disallow_untyped_defs"] is True
    assert "pydantic.mypy" in config["plugins"]


def test_no_module_is_exempt_from_its_errors():
    config = _mypy_config()
    assert "ignore_errors" not in config
    assert all("ignore_errors" not in override for override in config.get("overrides", []))


def test_every_type_ignore_names_its_error_code_and_a_reason():
    found = []
    for path in _checked_files():
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            match = _IGNORE.search(line)
            if match is None:
                continue
            before = lines[n - 1].strip() if n else ""
            after = line[match.end() :].strip()
            reason = before.startswith("#") or after.startswith("#") or after.startswith("(")
            if match.group("code") is None or not reason:
                found.append(f"{path.relative_to(ROOT)}:{n + 1}: {line.strip()}")
    assert found == []
    assert _checked_files(), "no files found: the mypy `files` setting moved"
