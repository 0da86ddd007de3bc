"""`make run` as a child process: start ``python -m devtools.devstack`` and wait for its banner (the
tests of `make run` and the idle-cost bench)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from devtools.devstack import BANNER_LAST_LINE

ROOT = Path(__file__).resolve().parent.parent


def start_devstack(
    env: Mapping[str, str], timeout_s: float = 60.0, argv: list[str] | None = None
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start the stack from the checkout's root in its own process group (like a terminal's foreground
    job: Ctrl-C is ``os.killpg(proc.pid, signal.SIGINT)``), stdout and stderr on one text pipe, and read
    the pipe up to the banner's last line. Returns the process and the lines read; the caller stops it
    and reads (or drains) the rest. If the stack exits first or the banner takes longer than
    ``timeout_s``, its group is killed and ``RuntimeError`` carries what it printed. ``argv``: another
    command that runs it (``make run``)."""
    proc = subprocess.Popen(
        argv or [sys.executable, "-m", "devtools.devstack"],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None  # stdout=PIPE
    output: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not any(BANNER_LAST_LINE in line for line in output):
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill_group(proc)
            raise RuntimeError(f"devstack gave no banner in {timeout_s:.0f} s:\n{''.join(output)}")
        output.append(proc.stdout.readline())
    return proc, output


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
