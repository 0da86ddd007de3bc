"""A channel rate limit kept by two executor processes together, on the real broker, Redis, database
and a webhook receiver: the receiver's arrival times keep to the limit (at most max + burst in any
window of one period), every job is delivered exactly once with one success row and no failed attempt,
and the jobs of an unlimited channel (log) in the same batches are not held back."""

from __future__ import annotations

import urllib.request
import uuid
from collections import Counter

import pytest

from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.automations import settings_file
from tests.support.jobs import committed_lag, make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, wait_until
from tests.support.processes import ExecutorProcess
from tests.support.sample import sample_request

pytestmark = [pytest.mark.slow]
MAX, PERIOD_S, BURST = 5, 1.0, 2
LIMIT = f'[rate_limits]\nwebhook = {{ rate = "{MAX}/s", burst = {BURST} }}\n'
LIMITED, UNLIMITED = 30, 60  # webhook jobs (client recipient), log jobs (owner recipient)


def owner_job() -> pb.AutomationJob:
    request = sample_request(f"b-{uuid.uuid4().hex[:10]}", recipient=pb.RECIPIENT_OWNER)
    return pb.AutomationJob(
        job_id=uuid.uuid4().hex, idempotency_key=uuid.uuid4().hex, request=request, attempt=1
    )


def scraped(process: ExecutorProcess, name: str, **labels: str) -> float:
    """The sum of a metric's samples carrying ``labels`` on the process's /metrics page."""
    with urllib.request.urlopen(f"{process.metrics_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("concurrency", [5, 1])  # 1: one worker thread; a parked booking must not hold it
@pytest.mark.timeout(240)
def test_two_executors_keep_the_webhook_limit_together(settings, http_receiver, tmp_path, concurrency):
    automations = settings_file(
        tmp_path / "limited.toml",
        quiet_hours=False,
        channels={"owner": "log"},
        replace={"\n[quiet_hours]\n": f"\n{LIMIT}\n[quiet_hours]\n"},
    )
    overrides = {
        "automations_file": str(automations),
        "dedup_lease_s": 3,
        "session_timeout_ms": 6000,
        "executor_concurrency": concurrency,
    }
    executors = [ExecutorProcess(settings, tmp_path, **overrides) for _ in range(2)]
    try:
        for executor in executors:
            executor.wait_ready()
        limited = [make_job() for _ in range(LIMITED)]
        unlimited = [owner_job() for _ in range(UNLIMITED)]
        pairs = zip(unlimited[::2], unlimited[1::2], limited, strict=True)
        produce_jobs(settings, [job for pair in pairs for job in pair])
        ids = {j.job_id for j in limited + unlimited}

        def succeeded() -> set[str]:
            return {r.job_id for r in eventlog_rows(settings.sqlalchemy_url, status="succeeded")}

        wait_until(lambda: succeeded() >= ids, 120, 0.5, f"{len(ids)} succeeded rows")
        wait_until(lambda: committed_lag(settings) == 0, 30, 0.5, "committed offsets past every job")
        throttled = [scraped(e, "automation_throttled_jobs_total", channel="webhook") for e in executors]
        throttled_s = [scraped(e, "automation_throttled_seconds_total", channel="webhook") for e in executors]
    finally:
        for executor in executors:
            executor.stop()
            print(executor.log_tail(2000))

    # exactly once: one success row per job, nothing failed, retried or dead-lettered; one delivery each
    rows = eventlog_rows(settings.sqlalchemy_url)
    statuses = Counter(r.status for r in rows)
    assert statuses == {"succeeded": len(ids)}, statuses
    assert all(r.attempt == 1 for r in rows)  # a throttled job used no attempt
    arrivals = [r for r in http_receiver.requests if isinstance(r.body, dict)]
    assert sorted(r.body["job_id"] for r in arrivals) == sorted(j.job_id for j in limited)

    # the combined send rate: at most MAX + BURST arrivals in any window of one period
    times = sorted(r.received_at for r in arrivals)
    busiest = max(sum(1 for t in times if start <= t < start + PERIOD_S) for start in times)
    span_s = times[-1] - times[0]
    print(f"webhook arrivals: {len(times)} in {span_s:.2f} s; busiest {PERIOD_S} s window: {busiest}")
    print(f"throttled jobs per executor: {throttled}; throttled seconds: {throttled_s}")
    assert busiest <= MAX + BURST
    # the limit did hold them back: after the burst, one arrival per interval at most
    assert span_s >= (LIMITED - BURST - 1) * PERIOD_S / MAX
    assert all(n > 0 for n in throttled), "both executors took part and were throttled"

    # the unlimited channel was not held back by the limited one: every log job was sent before half
    # of the webhook jobs had arrived
    log_sent = max(r.started_at for r in rows if r.job_id in {j.job_id for j in unlimited}).timestamp()
    halfway = times[len(times) // 2]
    print(f"last log job sent {log_sent - times[0]:.2f} s after the first webhook arrival")
    assert log_sent < halfway
