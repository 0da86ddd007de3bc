"""The executor as real OS processes: kill -9 mid-run, a second member taking over, SIGTERM drain, and
crashes at named points (failpoints). Every job must end with exactly one success, delivered with one
idempotency key; the repeats at the receiver are bounded by the jobs in flight at each crash."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections import defaultdict

import pytest

from executor_service.main import DRAIN_TIMEOUT_EXIT_CODE
from shared.failpoints import FAILPOINT_EXIT_CODE
from tests.support.jobs import committed_lag, make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, wait_until
from tests.support.processes import ExecutorProcess

pytestmark = [pytest.mark.slow, pytest.mark.chaos]
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
# a killed worker's leases free after 3 s; its group membership after 6 s; SIGTERM drains within 10 s
OVERRIDES = {"dedup_lease_s": 3, "session_timeout_ms": 6000, "drain_grace_s": 10}
TERMINAL = {"succeeded", "dead_lettered"}


@pytest.fixture
def spawn(settings, tmp_path):
    """``spawn(**overrides) -> ExecutorProcess`` with OVERRIDES; every process is killed at teardown."""
    started: list[ExecutorProcess] = []

    def start(**overrides) -> ExecutorProcess:
        started.append(ExecutorProcess(settings, tmp_path, **{**OVERRIDES, **overrides}))
        return started[-1]

    yield start
    for process in started:
        process.stop()
        print(process.log_tail(3000))  # shown when the test failed


def thousand_jobs(settings) -> list:
    jobs = [make_job(f"b-{i % 50}") for i in range(1000)]
    produce_jobs(settings, jobs)
    return jobs


def deliveries(http_receiver) -> list:
    """Complete requests. A kill -9 in the middle of a POST leaves the receiver a truncated body (not
    JSON): no receiver could act on it, so it is no delivery."""
    return [r for r in http_receiver.requests if isinstance(r.body, dict)]


def jobs_seen(http_receiver) -> int:
    return len({r.body["job_id"] for r in deliveries(http_receiver)})


def wait_seen(http_receiver, n: int, timeout_s: float = 60) -> None:
    wait_until(lambda: jobs_seen(http_receiver) >= n, timeout_s, 0.02, f"{n} jobs at the receiver")


def succeeded_ids(settings) -> set[str]:
    return {r.job_id for r in eventlog_rows(settings.sqlalchemy_url, status="succeeded")}


def wait_all_succeeded(settings, jobs, timeout_s: float = 120) -> None:
    """Until every job has a succeeded row and the group committed past every job (so what was redelivered
    has been handled: a redelivery cannot add a send or a row after the checks)."""
    ids = {j.job_id for j in jobs}
    wait_until(lambda: succeeded_ids(settings) >= ids, timeout_s, 0.5, f"{len(ids)} succeeded rows")
    wait_until(lambda: committed_lag(settings) == 0, 30, 0.5, "committed offsets past every job")


def assert_exactly_once(settings, http_receiver, jobs) -> int:
    """Each job: exactly one terminal EventLog row, ``succeeded``; delivered at least once, every time with
    its own idempotency key. Returns the repeats at the receiver (requests beyond one per job)."""
    terminal: dict[str, list[str]] = defaultdict(list)
    for row in eventlog_rows(settings.sqlalchemy_url):
        if row.status in TERMINAL:
            terminal[row.job_id].append(row.status)
    ids = {j.job_id for j in jobs}
    bad = {job_id: terminal.get(job_id) for job_id in ids if terminal.get(job_id) != ["succeeded"]}
    assert not bad, (
        f"{len(bad)} jobs without exactly one terminal row 'succeeded', e.g. {list(bad.items())[:5]}"
    )
    assert set(terminal) == ids, f"terminal rows of unknown jobs: {set(terminal) - ids}"
    requests = deliveries(http_receiver)
    keys: dict[str, set[str | None]] = defaultdict(set)
    for r in requests:
        keys[r.body["job_id"]].add(r.headers.get("idempotency-key"))
    assert set(keys) == ids, f"never delivered: {len(ids - set(keys))}; unknown: {set(keys) - ids}"
    wrong = [j.job_id for j in jobs if keys[j.job_id] != {j.idempotency_key}]
    assert not wrong, f"{len(wrong)} jobs delivered with another or several idempotency keys: {wrong[:5]}"
    repeats = len(requests) - len(keys)
    truncated = len(http_receiver.requests) - len(requests)
    print(f"requests={len(requests)} (+{truncated} truncated) jobs={len(keys)} repeats={repeats}")
    return repeats


@SQLITE_ONLY
@pytest.mark.timeout(300)
def test_kill_9_three_times_during_1000_jobs(settings, http_receiver, spawn):
    jobs = thousand_jobs(settings)
    executor = spawn()
    for n in (150, 400, 650):
        wait_seen(http_receiver, n)
        executor.kill()
        print(f"killed {executor.name} after {jobs_seen(http_receiver)} jobs seen")
        executor = spawn()
    wait_all_succeeded(settings, jobs)
    repeats = assert_exactly_once(settings, http_receiver, jobs)
    print(f"repeats after 3 kills: {repeats}")
    # at most the jobs in flight at each kill are delivered again: 3 kills x concurrency 5
    assert repeats <= 3 * settings.executor_concurrency
    executor.terminate()


@SQLITE_ONLY
@pytest.mark.timeout(300)
def test_two_executors_one_killed_survivor_takes_over(settings, http_receiver, spawn):
    first, survivor = spawn(), spawn()
    first.wait_ready()
    survivor.wait_ready()
    jobs = thousand_jobs(settings)  # after both joined, so that both hold work when one dies
    wait_seen(http_receiver, 200)
    first.kill()
    print(f"killed {first.name} after {jobs_seen(http_receiver)} jobs seen")
    wait_all_succeeded(settings, jobs)
    repeats = assert_exactly_once(settings, http_receiver, jobs)
    print(f"repeats after killing one of two: {repeats}")
    assert repeats <= settings.executor_concurrency
    assert survivor.log_text().count("partitions assigned") >= 2, (
        "the survivor took the dead one's partitions"
    )


@SQLITE_ONLY
@pytest.mark.timeout(180)
def test_sigterm_drains_within_grace_and_restart_redelivers_nothing_done(settings, http_receiver, spawn):
    jobs = thousand_jobs(settings)
    executor = spawn()
    wait_seen(http_receiver, 300)
    took_s = executor.terminate(timeout_s=60)
    done = len(succeeded_ids(settings))
    print(f"SIGTERM after {jobs_seen(http_receiver)} jobs seen: exit {executor.returncode} in {took_s:.2f}s")
    print(f"{done} jobs done before the restart")
    assert executor.returncode == 0, executor.log_tail()
    assert took_s < OVERRIDES["drain_grace_s"]
    assert "consumer closed" in executor.log_text()
    spawn()
    wait_all_succeeded(settings, jobs)
    assert assert_exactly_once(settings, http_receiver, jobs) == 0
    skipped = eventlog_rows(settings.sqlalchemy_url, status="skipped_duplicate")
    assert not skipped, f"{len(skipped)} jobs done before SIGTERM were redelivered (offsets not committed)"


@SQLITE_ONLY
def test_readiness_drops_at_sigterm_and_the_grace_period_bounds_the_drain(settings, http_receiver, spawn):
    """A slow receiver makes the drain long: readiness is false while it runs, and past drain_grace_s the
    process exits anyway (what it did not commit is redelivered to the next worker)."""
    http_receiver.delay_s = 0.5
    jobs = [make_job(f"b-{i}") for i in range(200)]
    produce_jobs(settings, jobs)
    executor = spawn(batch_max_messages=100, drain_grace_s=2)
    executor.wait_ready()
    wait_seen(http_receiver, 5)
    executor.proc.send_signal(signal.SIGTERM)
    sent_at = time.monotonic()
    time.sleep(0.3)
    with pytest.raises(urllib.error.HTTPError) as not_ready:
        urllib.request.urlopen(executor.metrics_url + "/readyz", timeout=2)
    assert not_ready.value.code == 503
    assert executor.wait_exit(10) == DRAIN_TIMEOUT_EXIT_CODE, executor.log_tail()
    assert time.monotonic() - sent_at < 2 + 1.5, "exits once the grace period is over"

    http_receiver.delay_s = 0.0
    spawn()
    wait_all_succeeded(settings, jobs)
    assert_exactly_once(settings, http_receiver, jobs)


# SQLite only: what each crash point leaves depends on the Redis markers and the row commit, not on the
# database engine (the one-success guard itself is tested on both engines in tests/test_migrations.py).
@SQLITE_ONLY
@pytest.mark.timeout(180)
@pytest.mark.parametrize("failpoint", ["after_send", "after_sent_mark", "after_done_mark"])
def test_crash_point_outcome(settings, http_receiver, spawn, failpoint):
    job = make_job()
    produce_jobs(settings, [job])
    crashing = spawn(failpoint=failpoint)
    assert crashing.wait_exit(30) == FAILPOINT_EXIT_CODE, crashing.log_tail()
    spawn()
    wait_all_succeeded(settings, [job], timeout_s=60)
    repeats = assert_exactly_once(settings, http_receiver, [job])
    if failpoint == "after_send":
        # The message left the process before anything could record it: the restarted executor cannot
        # know it was sent and sends again. Only the receiver can make this exactly-once, and it can,
        # because both deliveries carry the same idempotency key (checked in assert_exactly_once).
        assert repeats == 1, "delivered exactly twice"
    else:
        assert repeats == 0, "delivered exactly once"
