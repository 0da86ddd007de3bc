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
from sqlalchemy import create_engine, text

from executor_service.main import DRAIN_TIMEOUT_EXIT_CODE
from shared.config import Settings
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


def settled(http_receiver, quiet_s: float = 0.5) -> bool:
    """True once no job reached the receiver for ``quiet_s``."""
    before = jobs_seen(http_receiver)
    time.sleep(quiet_s)
    return jobs_seen(http_receiver) == before


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
@pytest.mark.parametrize(
    "failpoint", ["after_send", "after_sent_mark", "after_rows_written", "after_done_mark"]
)
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


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.timeout(180)
def test_crash_on_the_persist_thread_while_the_next_batch_is_in_hand(settings, http_receiver, spawn):
    """The pipelined loop makes a batch durable on the persist thread while it runs the next one. A test
    transaction locks the EventLog table against writes, so the first batch's persist waits while the next
    batch is sent; once the lock goes, the first batch's rows commit and the process dies there (its keys
    not marked done, the next batch sent, its sent markers written, no row of it). No job is lost, none
    succeeds twice, and no send is repeated."""
    jobs = [make_job(f"b-{i}") for i in range(300)]
    crashing = spawn(failpoint="after_rows_written", batch_max_messages=50)
    crashing.wait_ready()
    engine = create_engine(settings.sqlalchemy_url)
    with engine.connect() as lock:
        lock.execute(text("LOCK TABLE event_log IN EXCLUSIVE MODE"))  # reads go on, writes wait
        produce_jobs(settings, jobs)
        wait_seen(http_receiver, 1)
        wait_until(
            lambda: settled(http_receiver, quiet_s=1.0),
            30,
            0.0,
            "the sends stop: both batches in hand are sent",
        )
        lock.rollback()
    assert crashing.wait_exit(30) == FAILPOINT_EXIT_CODE, crashing.log_tail()
    engine.dispose()
    sent, written = jobs_seen(http_receiver), len(eventlog_rows(settings.sqlalchemy_url))
    assert 0 < written < sent, f"the crash came with sent jobs not written: {written} rows, {sent} sent"
    spawn()
    wait_all_succeeded(settings, jobs)
    measured = assert_recovered(settings, http_receiver, jobs, kills=1)
    # the next batch's run ended (the loop was waiting for the first persist): its markers were written
    assert measured["repeats"] == 0, "no send repeated"


# --- Crash recovery without stalls or EventLog floods (issue #13) --------------------------------------
# A webhook answering in 40 ms; the executor killed -9 mid-drain. The keys leased by a dead worker block
# their jobs only until its leases lapse (dedup_lease_s, no longer renewed), the messages behind a blocked
# job are neither run nor recorded again (partition_ledger.py), and deliveries go on meanwhile.
# The default lease (15 s): a dead worker's keys still block when its successor starts. Small batches: many
# of them are done (and some not yet committed) when a kill comes.
RECOVERY = {"dedup_lease_s": Settings.model_fields["dedup_lease_s"].default, "batch_max_messages": 50}
MAX_GAP_S = 20.0


def rows_per_key(settings) -> dict[str, int]:
    per_key: dict[str, int] = defaultdict(int)
    for row in eventlog_rows(settings.sqlalchemy_url):
        per_key[row.idempotency_key] += 1
    return per_key


def held_aside(executors) -> int:
    """How often an executor held jobs aside for another try (another worker's lease, or a failed publish)."""
    return sum(e.log_text().count("jobs not finished; tried again shortly") for e in executors)


def delivery_times(http_receiver) -> list[float]:
    return sorted(r.received_at for r in deliveries(http_receiver))


def longest_gap_s(times: list[float]) -> float:
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


def assert_recovered(settings, http_receiver, jobs, kills: int) -> dict[str, float]:
    """Exactly one success per job; at most one extra EventLog row per key per kill; each key delivered at
    most once more per kill and repeats within the sent-marker bound. Returns what it measured."""
    repeats = assert_exactly_once(settings, http_receiver, jobs)
    assert repeats <= kills * settings.executor_concurrency  # AUTOMATION_MAX_UNRECORDED_SENDS per crash
    per_key = rows_per_key(settings)
    worst = max(per_key.values())
    skipped = len(eventlog_rows(settings.sqlalchemy_url, status="skipped_duplicate"))
    assert worst <= 1 + kills, f"a key has {worst} EventLog rows after {kills} kills"
    sends: dict[str, int] = defaultdict(int)
    for r in deliveries(http_receiver):
        sends[r.body["job_id"]] += 1
    assert max(sends.values()) <= 1 + kills
    measured = {"repeats": repeats, "max_rows_per_key": worst, "skipped_rows": skipped}
    print(f"after {kills} kills: {measured}")
    return measured


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.timeout(240)
def test_kill_9_twice_mid_drain_no_stall_no_row_flood(settings, http_receiver, spawn):
    http_receiver.delay_s = 0.04
    jobs = [make_job(f"b-{i % 60}") for i in range(360)]
    produce_jobs(settings, jobs)
    executors = [spawn(**RECOVERY)]
    restarts: list[float] = []
    for n in (90, 200):
        wait_seen(http_receiver, n)
        executors[-1].kill()
        print(f"killed {executors[-1].name} after {jobs_seen(http_receiver)} jobs seen")
        restarts.append(time.time())
        executors.append(spawn(**RECOVERY))
    wait_all_succeeded(settings, jobs)
    measured = assert_recovered(settings, http_receiver, jobs, kills=2)
    print(f"held aside (blocked by a dead worker's lease) {held_aside(executors)} times")
    times = delivery_times(http_receiver)
    resumed_s = [min(t for t in times if t > r) - r for r in restarts]
    gap_s = longest_gap_s(times)
    print(
        f"delivery resumed {[round(s, 1) for s in resumed_s]} s after the restarts; longest gap {gap_s:.1f} s"
    )
    assert max(resumed_s) < MAX_GAP_S and gap_s < MAX_GAP_S
    assert measured["skipped_rows"] < len(jobs), "redeliveries are bounded by what was not committed"
    executors[-1].terminate()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.timeout(240)
def test_two_executors_one_killed_survivor_resumes_its_partitions_soon(settings, http_receiver, spawn):
    http_receiver.delay_s = 0.04
    first, survivor = spawn(**RECOVERY), spawn(**RECOVERY)
    first.wait_ready()
    survivor.wait_ready()
    jobs = [make_job(f"b-{i % 60}") for i in range(600)]
    produce_jobs(settings, jobs)
    wait_seen(http_receiver, 120)
    first.kill()
    killed_at = time.time()
    print(f"killed {first.name} after {jobs_seen(http_receiver)} jobs seen")
    wait_all_succeeded(settings, jobs)
    measured = assert_recovered(settings, http_receiver, jobs, kills=1)
    print(f"held aside (blocked by a dead worker's lease) {held_aside([survivor])} times")
    # per partition: once the survivor owns the dead one's partitions, their deliveries go on within 20 s
    partition_of = {
        r.job_id: r.kafka_partition for r in eventlog_rows(settings.sqlalchemy_url, status="succeeded")
    }
    by_partition: dict[int, list[float]] = defaultdict(list)
    for r in deliveries(http_receiver):
        by_partition[partition_of[r.body["job_id"]]].append(r.received_at)
    gaps = {p: longest_gap_s(sorted(ts)) for p, ts in by_partition.items()}
    late = [p for p, ts in by_partition.items() if max(ts) > killed_at]
    print(f"longest delivery gap per partition: {gaps}; partitions delivering after the kill: {late}")
    assert max(gaps.values()) < MAX_GAP_S
    assert survivor.log_text().count("partitions assigned") >= 2, (
        "the survivor took the dead one's partitions"
    )
    assert measured["max_rows_per_key"] <= 2
