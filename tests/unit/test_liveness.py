"""Liveness bookkeeping, the progress reported by channel sends, and the one-line settings errors."""

from __future__ import annotations

import logging
import threading

import pytest
from pydantic import SecretStr, ValidationError

from executor_service.automations import Contact, RenderedMessage
from executor_service.channel_registry import ChannelRegistry
from executor_service.liveness import Liveness, thread_stacks
from shared.automation_settings import Senders
from shared.config import Settings
from shared.startup import describe_validation_error


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_liveness_fails_only_after_the_stall_time_without_a_beat() -> None:
    clock = Clock()
    liveness = Liveness(10.0, clock=clock)
    clock.now += 9.9
    assert liveness.alive() and liveness.idle_for_s() == pytest.approx(9.9)
    clock.now += 0.1
    assert not liveness.alive(), "10 s without progress is a stall"
    liveness.beat()
    assert liveness.alive() and liveness.idle_for_s() == 0.0
    clock.now += 9.0
    liveness.beat()
    clock.now += 9.0
    assert liveness.alive(), "each beat restarts the count"


def test_a_stall_is_logged_once_with_the_threads_stacks(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    liveness = Liveness(1.0, clock=clock)
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="executor_service.liveness"):
        assert not liveness.alive() and not liveness.alive()
    [record] = caplog.records
    assert record.idle_s == 5.0 and record.stall_s == 1.0
    liveness.beat()
    clock.now += 5
    with caplog.at_level(logging.ERROR, logger="executor_service.liveness"):
        assert not liveness.alive()
    assert len(caplog.records) == 2, "a new stall is logged again"


def test_thread_stacks_show_where_a_named_thread_waits() -> None:
    release = threading.Event()
    waiter = threading.Thread(target=release.wait, name="consume-loop-test", daemon=True)
    waiter.start()
    try:
        stacks = thread_stacks(("consume-loop",))
    finally:
        release.set()
        waiter.join()
    assert "consume-loop-test" in stacks and "wait" in stacks["consume-loop-test"]


def test_liveness_refuses_a_non_positive_stall() -> None:
    with pytest.raises(ValueError):
        Liveness(0)


class Failing:
    name = "log"

    def send(self, message, *, job_id, idempotency_key):
        raise RuntimeError("down")


def test_every_send_reports_progress_delivered_or_not(tmp_path) -> None:
    beats: list[int] = []
    settings = Settings(var_dir=tmp_path, default_channel="log")
    registry = ChannelRegistry(settings, Senders(), progress=lambda: beats.append(1))
    message = RenderedMessage("bookingConfirmation", "client", Contact(), "s", "b")
    assert registry.get("default").send(message, job_id="j", idempotency_key="k")["channel"] == "log"
    assert registry.get("null").send(message, job_id="j", idempotency_key="k") == {"channel": "null"}
    assert registry.get("null").sent == 1, "the wrapped channel's own attributes stay reachable"
    assert len(beats) == 2
    registry._built["log"] = registry._reporting(Failing())
    with pytest.raises(RuntimeError):
        registry.get("log").send(message, job_id="j", idempotency_key="k")
    assert len(beats) == 3, "a failed send is a finished job too"


def test_settings_errors_are_one_line_without_the_values_given() -> None:
    with pytest.raises(ValidationError) as excinfo:
        Settings(smtp_port="hunter2-secret", liveness_stall_s=0, sms_auth_token=SecretStr("x"))
    line = describe_validation_error(excinfo.value)
    assert "\n" not in line and "hunter2-secret" not in line
    assert "AUTOMATION_SMTP_PORT" in line and "AUTOMATION_LIVENESS_STALL_S" in line
