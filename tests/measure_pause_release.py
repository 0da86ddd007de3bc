"""Measurement, run on demand (not collected by default; numbers in ARCHITECTURE.md, "Pause and resume"):
how soon a pause holds new jobs and how soon a resume releases them, on the in-process pipeline.

    .venv/bin/python -m pytest tests/measure_pause_release.py -q -s

Prints, per round: seconds from PauseAutomations to the first enqueued job that was held, how many were
held, and seconds from ResumeAutomations until every held job succeeded.
"""

from __future__ import annotations

import time
import uuid

from shared.client import AutomationClient
from shared.config import Settings
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.pipeline import eventlog_rows, running_executor, running_trigger, wait_until
from tests.support.sample import sample_request

ROUNDS = 3


def _first_status(settings: Settings, job_id: str) -> str | None:
    rows = eventlog_rows(settings.sqlalchemy_url, job_id=job_id)
    return rows[0].status if rows else None


def _enqueue(client: AutomationClient) -> str:
    booking = f"b-{uuid.uuid4().hex[:8]}"
    return client.enqueue(sample_request(booking, pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION)).job_id


def test_pause_and_release_times(settings: Settings, http_receiver) -> None:
    results = []
    with (
        running_trigger(settings) as (_, trigger),
        AutomationClient(f"127.0.0.1:{trigger.port}") as client,
        running_executor(settings),
    ):
        warm = _enqueue(client)
        wait_until(lambda: eventlog_rows(settings.sqlalchemy_url, job_id=warm), timeout_s=30)
        time.sleep(3)  # the executor's copy of the pauses is fresh and empty
        for _ in range(ROUNDS):
            started = time.monotonic()
            client.pause(reason="measure", automation_types=["bookingConfirmation"])
            sent: list[tuple[float, str]] = []
            first_held = None
            while first_held is None and time.monotonic() - started < 20:
                sent.append((time.monotonic() - started, _enqueue(client)))
                time.sleep(0.1)
                first_held = next((t for t, j in sent if _first_status(settings, j) == "paused"), None)
            held = [j for _, j in sent if _first_status(settings, j) == "paused"]
            assert first_held is not None and held
            time.sleep(6)
            resumed = time.monotonic()
            client.resume(reason="measure", automation_types=["bookingConfirmation"])

            def all_sent(held: list[str] = held) -> bool:
                return all(
                    any(r.status == "succeeded" for r in eventlog_rows(settings.sqlalchemy_url, job_id=j))
                    for j in held
                )

            wait_until(all_sent, timeout_s=40, interval_s=0.05, what="held jobs sent after resume")
            results.append((round(first_held, 2), len(held), round(time.monotonic() - resumed, 2)))
            time.sleep(3)
    print("\npause -> first held enqueue (s), held jobs, resume -> all succeeded (s):", results)
