"""The deployment validation tools: checkov, hadolint, kubernetes-validate and yamllint from `make tools`
(.tools/venv, pinned in deploy/requirements-tools.txt), kubectl from the machine image."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TOOLS_BIN = ROOT / ".tools" / "venv" / "bin"


def require_tool(name: str) -> str:
    """Path of ``name``: .tools/venv/bin first, then PATH. Missing: fail on CI (CI=true), else skip."""
    candidate = TOOLS_BIN / name
    path = str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else shutil.which(name)
    if path is None:
        hint = "kubectl comes with the machine image" if name == "kubectl" else "run `make tools`"
        message = f"{name} not found in {TOOLS_BIN} or on PATH: {hint}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_tool(args: list[str], *, timeout: float = 120, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run a tool and capture its output (checkov: no platform mapping download; the tests pass
    --skip-download too, and checkov then runs with no network at all)."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "NO_COLOR": "1"}
    return subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env, check=False
    )


def describe(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\n--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
