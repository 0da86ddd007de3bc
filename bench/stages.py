"""Where a service's CPU per job goes, by pipeline stage, from a py-spy profile (``--profile``).

py-spy runs with ``--gil`` (bench/profiling.py): a sample is taken of the thread holding the GIL, so
``samples / rate`` is the time the process ran Python (or C code that keeps the GIL). Each sample is put
in the first stage of the service's list that one of its frames matches (a frame is
``function (path:line)``; rules match substrings of it), so a Redis call made from the enqueue path
counts as Redis. Divided by the jobs of the window this gives µs of GIL time per job per stage; what
the process used beyond that (its CPU per job minus its GIL time) ran in threads without the GIL:
gRPC's C core, librdkafka, psycopg waiting on sockets.

``python -m bench.stages trigger|executor <profile.txt> <jobs> [cpu_us_per_job]`` prints the table.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from bench.profiling import RATE

STAGES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "trigger": [
        ("Redis: idempotency claim/settle", ("idempotency.py", "/redis/")),
        ("Kafka: produce + delivery callbacks", ("shared/kafka.py", "confluent_kafka")),
        ("validation", ("trigger_service/validation.py",)),
        (
            "enqueue path: job building, encoding, waits",
            ("trigger_service/enqueue.py", "shared/codec.py", "due.py"),
        ),
        ("coalescer: batching, answering callers", ("trigger_service/coalescer.py",)),
        ("tracing, logging", ("tracing.py", "/logging/")),
        ("metrics", ("prometheus_client",)),
        ("servicer, interceptors", ("trigger_service/",)),
        ("gRPC server (receive, dispatch, status)", ("grpc/",)),
        ("thread pools, locks", ("concurrent/futures", "threading.py")),
    ],
    "executor": [
        ("EventLog: already-succeeded query", ("EventLogWriter.succeeded_keys",)),
        ("EventLog: write (COPY, commit)", ("shared/db/eventlog_writer.py",)),
        ("Redis: claim, settle, sent markers", ("dedup.py", "sent_marks.py", "/redis/")),
        ("pre-send checks", ("executor_service/checks.py",)),
        ("render template", ("executor_service/automations.py", "templates.py")),
        ("channel send (null)", ("channel_registry.py", "executor_service/channels.py")),
        ("Kafka: consume, commit, republish", ("shared/kafka.py", "confluent_kafka", "onward.py")),
        ("decode job", ("shared/codec.py", "proto_dict.py", "google/protobuf")),
        ("tracing, logging", ("tracing.py", "/logging/")),
        ("metrics", ("prometheus_client",)),
        ("other database", ("sqlalchemy", "psycopg")),
        ("batch orchestration, lanes", ("executor_service/",)),
        ("thread pools, locks", ("concurrent/futures", "threading.py")),
    ],
}
OTHER = "other"


def stage_samples(profile: Path, service: str) -> Counter[str]:
    """Samples per stage of ``profile`` (py-spy ``--format raw``)."""
    rules = STAGES[service]
    counts: Counter[str] = Counter()
    for line in profile.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        stage = next((name for name, keys in rules if any(k in f for f in frames for k in keys)), OTHER)
        counts[stage] += int(count_text)
    return counts


def breakdown(profile: Path, service: str, jobs: int, cpu_us_per_job: float | None = None) -> list[dict]:
    """Rows: stage, share of GIL samples, GIL µs per job; with the process's ``cpu_us_per_job`` a last
    row for the CPU used outside the GIL."""
    counts = stage_samples(profile, service)
    total = sum(counts.values())
    rows = [
        {
            "stage": name,
            "share_pct": round(100 * n / total, 1),
            "gil_us_per_job": round(n / RATE / jobs * 1e6, 1),
        }
        for name, n in counts.most_common()
    ]
    gil_us = total / RATE / jobs * 1e6 if jobs else 0.0
    rows.append({"stage": "TOTAL with the GIL", "share_pct": 100.0, "gil_us_per_job": round(gil_us, 1)})
    if cpu_us_per_job is not None:
        rows.append(
            {
                "stage": "outside the GIL (C threads: gRPC core, librdkafka, socket waits)",
                "share_pct": None,
                "gil_us_per_job": round(max(cpu_us_per_job - gil_us, 0.0), 1),
            }
        )
    return rows


def main(argv: list[str]) -> int:
    from bench.report import table

    service, path, jobs, *cpu = argv
    print("\n".join(table(breakdown(Path(path), service, int(jobs), float(cpu[0]) if cpu else None))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
