"""The wait of the first job after a quiet spell: how long a job sits on a parked jobs partition.

``python -m bench.first_job [jobs] [gap_s]`` starts a trigger and an executor on the bench's backends
(bench/stack.py; EventLog on PostgreSQL, else SQLite), warms them up, then sends ``jobs`` (default 30)
single EnqueueAutomation calls ``gap_s`` apart (default 1.3 s: longer than ``IDLE_AFTER_S``, so every job
finds the executor quiet and its jobs partitions parked) and prints, for each, the time from the call's
answer to its success row being visible, with the call's phase on the 100 ms park grid (parks end on
multiples of ``IDLE_JOBS_PARK_S`` of CLOCK_MONOTONIC, the same clock in every process), then min / p50 /
max. Not part of ``make bench``; what ARCHITECTURE.md ("Retries: delay tiers on Kafka") quotes.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path

import grpc

from bench.clients import ENQUEUE
from bench.databases import EventLogReader, database
from bench.harness import warm_up
from bench.poller import Poller
from bench.scenario_latency import _wait_rows
from bench.services import Executor, Trigger
from bench.stack import start_stack
from bench.stats import percentile
from bench.workload import RequestFactory
from shared.constants import IDLE_JOBS_PARK_S
from shared.proto.automation.v1 import automation_pb2 as pb


def main(jobs: int = 30, gap_s: float = 1.3) -> None:
    stack = start_stack(Path(f"/tmp/bench-first-job-{time.strftime('%Y%m%dT%H%M%S')}"))
    try:
        kind = "postgres" if stack.postgres_admin_url else "sqlite"
        topic = stack.topic("first")
        with database(kind, stack.postgres_admin_url, stack.work_dir, "first") as db, ExitStack() as cleanup:
            reader = EventLogReader(db.url)
            cleanup.callback(reader.close)
            executor = cleanup.enter_context(
                Executor(stack, "executor-first", topic, stack.group("first"), db.url)
            )
            trigger = cleanup.enter_context(Trigger(stack, "trigger-first", topic))
            executor.wait_assigned()
            _wait_rows(reader, len(warm_up(trigger.address, f"f{stack.run_id}w")), timeout_s=60)
            poller = Poller(db, start_id=reader.max_id())
            cleanup.callback(poller.close)
            channel = grpc.insecure_channel(trigger.address)
            cleanup.callback(channel.close)
            call = channel.unary_unary(ENQUEUE, response_deserializer=pb.EnqueueAutomationResponse.FromString)
            factory = RequestFactory(f"f{stack.run_id}")
            answered: list[tuple[str, float]] = []
            for n in range(jobs):
                time.sleep(gap_s)
                response = call(factory.serialized(n), timeout=10)
                answered.append((response.job_id, time.monotonic()))
            poller.wait_seen(jobs, timeout_s=30)
            seen = poller.stop()["seen"]
    finally:
        stack.close()
    print(f"EventLog on {kind}; {jobs} jobs, {gap_s:g} s apart; answer -> success row visible:")
    waits = []
    for job_id, at in answered:
        waits.append(wait := seen[job_id] - at)
        print(f"  grid phase {at % IDLE_JOBS_PARK_S * 1000:5.1f} ms   wait {wait * 1000:6.1f} ms")
    print(
        f"min {min(waits) * 1000:.1f} ms, p50 {percentile(waits, 50) * 1000:.1f} ms, "
        f"max {max(waits) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]), *(float(a) for a in sys.argv[2:3]))
