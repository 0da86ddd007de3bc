"""make run's stop logic: a child that exits because of the terminal's Ctrl-C is not a failure."""

from __future__ import annotations

import subprocess
import sys
import threading

from devtools.devstack import _first_exit, _StopRequest


def _child(code: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])


def test_child_exiting_just_before_our_own_stop_signal_is_a_clean_stop():
    stop = _StopRequest()
    child = _child(0)
    child.wait()  # the child saw Ctrl-C first
    timer = threading.Timer(0.3, stop)  # our handler runs a moment later
    timer.start()
    try:
        assert _first_exit({"trigger_service": child}, stop) is None
    finally:
        timer.cancel()


def test_child_dying_on_its_own_is_named_with_its_exit_code():
    stop = _StopRequest()
    child = _child(3)
    assert _first_exit({"executor_service": child}, stop) == ("executor_service", 3)


def test_stop_request_without_any_exit_returns_at_once():
    stop = _StopRequest()
    stop()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert _first_exit({"trigger_service": child}, stop) is None
    finally:
        child.kill()
        child.wait()
