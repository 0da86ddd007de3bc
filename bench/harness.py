"""Runs a group of load-generator processes against the services while metering CPU and, with
``--profile``, sampling the processes with py-spy."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from bench.clients import ENQUEUE, ClientGroup
from bench.databases import Database, backend_pids
from bench.procfs import CpuMeter, Pids
from bench.profiling import PySpy
from bench.services import Trigger
from bench.stack import Stack
from bench.workload import RequestFactory
from shared.proto.automation.v1 import automation_pb2 as pb

NOT_PYTHON = {"tansu", "redis", "postgres", "machine"}  # py-spy profiles Python processes only


@dataclass
class Drive:
    results: list[dict[str, Any]]
    started: float  # monotonic time the clients were released
    cpu_cores: dict[str, float]  # CPU use per process group during the run
    profiles: dict[str, list[str]] = field(default_factory=dict)


def drive(
    kind: str,
    kwargs_list: list[dict[str, Any]],
    watch: dict[str, Pids],
    timeout_s: float,
    profile_dir: Path | None = None,
    label: str = "",
) -> Drive:
    """Start the clients, release them together, wait for their results. ``watch``: process groups
    (e.g. {"trigger": [pid]}) whose CPU use is reported and which are profiled with the clients."""
    group = ClientGroup(kind, kwargs_list)
    try:
        targets = {**watch, "generator": group.pids}
        meter = CpuMeter(watch)  # the generator measures itself: it has exited when the meter stops
        spies: dict[str, PySpy] = {}
        if profile_dir is not None:
            for name, pids in targets.items():
                if name in NOT_PYTHON or callable(pids):
                    continue
                for i, pid in enumerate(p for p in pids if p):
                    spies[f"{name}{i or ''}"] = PySpy(pid, profile_dir / f"{label}-{name}{i or ''}.txt")
            time.sleep(1.0)  # py-spy attaches
        started = group.go()
        meter.start()
        results = group.results(timeout_s)
        cpu = meter.stop()
        elapsed = max(r["elapsed"] for r in results)
        cpu["generator"] = round(sum(r["cpu_s"] for r in results) / elapsed, 2)
        profiles = {f"{label} {name}": spy.stop() for name, spy in spies.items()}
        return Drive(results, started, cpu, profiles)
    finally:
        group.close()


def watched(stack: Stack, db: Database | None = None, **services: list[int | None]) -> dict[str, Pids]:
    """The process groups to meter: ``services``, the broker, Redis and the database's backends."""
    groups: dict[str, Pids] = {**services, "tansu": [stack.embedded_pid("tansu")], "redis": [stack.redis_pid]}
    if db is not None and db.kind == "postgres":
        groups["postgres"] = backend_pids(db)
    return groups


def warm_up(address: str, prefix: str, calls: int = 20) -> list[str]:
    """A few sequential calls (connections, the lazy producer); returns their job ids. Raises if the
    trigger deferred the jobs (the bench measures jobs that are due at once)."""
    factory = RequestFactory(prefix)
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(ENQUEUE, response_deserializer=pb.EnqueueAutomationResponse.FromString)
        responses = [call(factory.serialized(n), timeout=30) for n in range(calls)]
    deferred = [r for r in responses if "due_at" in r.DESCRIPTOR.fields_by_name and r.HasField("due_at")]
    if deferred:
        due = deferred[0].due_at.ToJsonString()
        raise RuntimeError(
            f"the trigger deferred the bench's jobs (due at {due}): quiet hours? see workload.py"
        )
    return [r.job_id for r in responses]


@contextmanager
def replicas(stack: Stack, name: str, count: int) -> Iterator[list[Trigger]]:
    """``count`` trigger processes on one fresh jobs topic (as replicas behind a load balancer), warmed
    up; stopped on exit."""
    topic = stack.topic(name)
    triggers: list[Trigger] = []
    try:
        for i in range(count):
            triggers.append(Trigger(stack, f"trigger-{name}-{i}", topic))
        for trigger in triggers:
            warm_up(trigger.address, f"{name}{stack.run_id}w{trigger.port}")
        yield triggers
    finally:
        for trigger in triggers:
            trigger.stop()


def summed(counts: Iterable[dict[str, int]]) -> Counter[str]:
    """Per-code counts of several client processes, added up."""
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return total
