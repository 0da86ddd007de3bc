"""Run the trigger and the executor in the test process, on real sockets and backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc
from sqlalchemy import select

from executor_service.app import build_loop
from shared.config import Settings
from shared.db.engine import make_engine, make_session_factory
from shared.db.models import EventLog
from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc
from trigger_service.server import create_server

T = TypeVar("T")


@contextmanager
def running_trigger(settings: Settings, credentials: grpc.ChannelCredentials | None = None):
    """Yield a stub connected over TCP to a trigger bound to a free port: plaintext, or with
    ``credentials`` over TLS (the trigger's certificate must be valid for 127.0.0.1)."""
    trigger = create_server(settings, "127.0.0.1:0")
    trigger.start()
    target = f"127.0.0.1:{trigger.port}"
    channel = (
        grpc.insecure_channel(target) if credentials is None else grpc.secure_channel(target, credentials)
    )
    try:
        yield pb_grpc.AutomationServiceStub(channel), trigger
    finally:
        channel.close()
        trigger.stop(grace_s=1.0)


@contextmanager
def running_executor(settings: Settings, *, assigned_timeout_s: float = 20.0, **build_args: Any):
    """Run the executor's consume loop in a thread until the block exits (then stop it cleanly)."""
    loop = build_loop(settings, **build_args)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), name="executor", daemon=True)
    thread.start()
    try:
        if not loop.assigned.wait(assigned_timeout_s):
            raise AssertionError("the executor got no partitions in time")
        yield loop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the executor did not stop"


def wait_until(probe: Callable[[], T], timeout_s: float = 20.0, interval_s: float = 0.1, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what or probe}")
        time.sleep(interval_s)


def eventlog_rows(database_url: str, **filters: Any) -> list[EventLog]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            query = select(EventLog).filter_by(**filters).order_by(EventLog.id)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def wait_rows(database_url: str, n: int, timeout_s: float = 20.0, **filters: Any) -> list[EventLog]:
    """Until at least ``n`` EventLog rows match ``filters``; returns them."""

    def probe() -> list[EventLog] | None:
        rows = eventlog_rows(database_url, **filters)
        return rows if len(rows) >= n else None

    return wait_until(probe, timeout_s, what=f"{n} EventLog rows {filters or ''}")
