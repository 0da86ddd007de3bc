"""The packaged Lua scripts: each one production loads exists, and each says its KEYS and ARGV."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.redis_client import lua_source

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "trigger_service", "executor_service")
LOADED = re.compile(r'load_script\(\w+, __package__, "([^"]+\.lua)"\)')


def loaded_scripts() -> list[tuple[str, str]]:
    found = []
    for package in PACKAGES:
        for module in (ROOT / package).rglob("*.py"):
            subpackage = ".".join(module.relative_to(ROOT).parent.parts)
            found += [(subpackage, name) for name in LOADED.findall(module.read_text())]
    return found


def test_every_script_file_is_loaded_by_its_module() -> None:
    files = {
        (".".join(p.relative_to(ROOT).parent.parts), p.name)
        for pkg in PACKAGES
        for p in (ROOT / pkg).rglob("*.lua")
    }
    assert files, "no .lua files"
    assert files == set(loaded_scripts())


@pytest.mark.parametrize(("package", "name"), loaded_scripts())
def test_each_script_opens_with_a_header_naming_its_keys_and_arguments(package: str, name: str) -> None:
    source = lua_source(package, name)
    header = "\n".join(line for line in source.splitlines() if line.startswith("--"))
    assert source.startswith("-- "), f"{name}: no header comment"
    assert "KEYS" in header and "ARGV" in header, f"{name}: the header must say its KEYS and ARGV"
    assert "Returns" in header, f"{name}: the header must say what it returns"
