"""make run's supervision: a child that exits because of the terminal's Ctrl-C is not a failure; one that
dies on its own is started again, unless it refused to start (exit 2) or keeps dying."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from devtools import devstack
from devtools.devstack import RESTART_LIMIT, _StopRequest, _supervise


def _child(code: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])


def test_child_exiting_just_before_our_own_stop_signal_is_a_clean_stop():
    stop = _StopRequest()
    child = _child(0)
    child.wait()  # the child saw Ctrl-C first
    timer = threading.Timer(0.3, stop)  # our handler runs a moment later
    timer.start()
    try:
        assert _supervise({"trigger_service": child}, {}, stop) is None
    finally:
        timer.cancel()


def test_child_refusing_to_start_is_named_with_its_exit_code():
    stop = _StopRequest()
    child = _child(2)  # invalid or missing settings: starting it again would not help
    assert _supervise({"executor_service": child}, {}, stop) == ("executor_service", 2)


def test_child_dying_on_its_own_is_started_again_until_it_keeps_dying(monkeypatch: pytest.MonkeyPatch):
    started: list[str] = []

    def start(module: str, env: dict[str, str]) -> subprocess.Popen:
        started.append(module)
        return _child(3)  # dies at once, not a settings refusal

    monkeypatch.setattr(devstack, "_start_service", start)
    monkeypatch.setattr(devstack, "STOP_SIGNAL_GRACE_S", 0.01)
    stop = _StopRequest()
    assert _supervise({"executor_service": _child(3)}, {}, stop) == ("executor_service", 3)
    assert started == ["executor_service"] * RESTART_LIMIT


def test_stop_request_without_any_exit_returns_at_once():
    stop = _StopRequest()
    stop()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _supervise({"trigger_service": child}, {}, stop) is None
    finally:
        child.kill()
        child.wait()
