"""EventLog pruning by age (shared/db/retention.py) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, insert, select

from shared.db.engine import make_engine
from shared.db.migrate import upgrade
from shared.db.models import EventLog
from shared.db.retention import prune_cutoff, prune_eventlog, prune_preview

NOW = datetime(2027, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
TABLE = EventLog.__table__


@pytest.fixture
def engine(database_url: str):
    """The migrated test database (SQLite or PostgreSQL)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def row(n: int, finished_at: datetime) -> dict[str, object]:
    """Every non-null column of an EventLog row, finished at ``finished_at``; ``job_id`` is ``j<n>``."""
    return {
        "job_id": f"j{n}",
        "idempotency_key": f"key-{n}",
        "automation_type": "bookingConfirmation",
        "recipient": "client",
        "booking_id": f"b-{n}",
        "status": "succeeded",
        "attempt": 1,
        "inputs": {"n": n},
        "started_at": finished_at - timedelta(milliseconds=5),
        "finished_at": finished_at,
        "duration_ms": 5.0,
        "kafka_topic": "automation.jobs",
        "kafka_partition": 0,
        "kafka_offset": n,
    }


def add(engine: Engine, finished: list[datetime], start: int = 0) -> None:
    with engine.begin() as conn:
        conn.execute(insert(TABLE), [row(start + i, at) for i, at in enumerate(finished)])


def job_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(TABLE.c.job_id)))


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(TABLE))


def test_deletes_exactly_the_rows_older_than_the_cutoff(engine):
    ages = {
        "j0": timedelta(days=400),
        "j1": timedelta(days=31),
        "j2": timedelta(days=30, microseconds=1),  # 1 µs before the cut-off: pruned
        "j3": timedelta(days=30),  # exactly at the cut-off: kept (strictly older only)
        "j4": timedelta(days=30) - timedelta(microseconds=1),
        "j5": timedelta(days=29),
        "j6": timedelta(0),
        "j7": -timedelta(hours=1),  # in the future (clock skew): kept
    }
    add(engine, [NOW - age for age in ages.values()])
    calls: list[int] = []

    deleted = prune_eventlog(engine, older_than=timedelta(days=30), now=NOW, on_batch=calls.append)

    assert deleted == 3
    assert calls == [3, 0]
    assert job_ids(engine) == {"j3", "j4", "j5", "j6", "j7"}


def test_batches_are_bounded_and_the_loop_ends_on_an_empty_batch(engine):
    old = [NOW - timedelta(days=40, seconds=i) for i in range(2500)]
    recent = [NOW - timedelta(days=1, seconds=i) for i in range(7)]
    add(engine, old + recent)
    calls: list[int] = []

    deleted = prune_eventlog(
        engine, older_than=timedelta(days=30), batch_size=1000, now=NOW, on_batch=calls.append
    )

    assert deleted == 2500
    assert calls == [1000, 1000, 500, 0]
    assert job_ids(engine) == {f"j{2500 + i}" for i in range(7)}


def test_batches_take_the_oldest_rows_first(engine):
    """An interrupted prune leaves no holes: what remains is always a contiguous window of recent rows."""
    add(engine, [NOW - timedelta(days=100 - i) for i in range(10)])  # j0 oldest, j9 newest (91 days)
    remaining: list[set[str]] = []

    def stop_after_first_batch(deleted: int) -> None:
        remaining.append(job_ids(engine))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prune_eventlog(
            engine, older_than=timedelta(days=30), batch_size=4, now=NOW, on_batch=stop_after_first_batch
        )

    assert remaining == [{f"j{i}" for i in range(4, 10)}]
    assert job_ids(engine) == {f"j{i}" for i in range(4, 10)}  # the first batch was committed


def test_empty_table(engine):
    calls: list[int] = []
    assert prune_eventlog(engine, older_than=timedelta(days=30), now=NOW, on_batch=calls.append) == 0
    assert calls == [0]


def test_nothing_old_enough_deletes_nothing(engine):
    add(engine, [NOW - timedelta(days=d) for d in (0, 1, 29)])
    assert prune_eventlog(engine, older_than=timedelta(days=30), now=NOW) == 0
    assert count(engine) == 3


def test_accepts_a_url_and_a_now_in_another_time_zone(database_url, engine):
    add(engine, [NOW - timedelta(hours=3), NOW - timedelta(hours=1)])
    local_now = NOW.astimezone(timezone(timedelta(hours=-8)))  # the same instant, written as UTC-8

    assert prune_eventlog(database_url, older_than=timedelta(hours=2), now=local_now) == 1
    assert job_ids(engine) == {"j1"}


def test_default_now_is_the_current_time(engine):
    add(engine, [datetime.now(UTC) - timedelta(days=2), datetime.now(UTC)])
    assert prune_eventlog(engine, older_than=timedelta(days=1)) == 1
    assert job_ids(engine) == {"j1"}


def test_zero_age_prunes_everything_finished_before_now(engine):
    add(engine, [NOW - timedelta(seconds=1), NOW])
    assert prune_eventlog(engine, older_than=timedelta(0), now=NOW) == 1
    assert job_ids(engine) == {"j1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"older_than": timedelta(days=-1)}, "older_than"),
        ({"older_than": timedelta(days=1), "batch_size": 0}, "batch_size"),
        ({"older_than": timedelta(days=1), "now": datetime(2027, 3, 1)}, "timezone-aware"),
    ],
)
def test_rejects_bad_arguments(sqlite_url, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prune_eventlog(sqlite_url, **kwargs)


def test_prune_cutoff_is_utc():
    cutoff = prune_cutoff(timedelta(days=30), NOW.astimezone(timezone(timedelta(hours=5))))
    assert cutoff == NOW - timedelta(days=30)
    assert cutoff.utcoffset() == timedelta(0)


def pending_rows(engine: Engine, statuses: list[tuple[str, str, timedelta]]) -> None:
    """Rows (idempotency key, status, age) with job ids ``<key>/<status>``."""
    rows = []
    for n, (key, status, age) in enumerate(statuses):
        r = row(n, NOW - age)
        r.update(idempotency_key=key, status=status, job_id=f"{key}/{status}")
        rows.append(r)
    with engine.begin() as conn:
        conn.execute(insert(TABLE), rows)


def test_rows_of_jobs_not_yet_final_are_never_pruned(engine):
    """A job still waiting in a delay or retry topic keeps its rows, however old; once the job ended,
    all its old rows go."""
    old = timedelta(days=90)
    pending_rows(
        engine,
        [
            ("waiting", "scheduled", old),  # due in months: still in the delay topics
            ("retrying", "retry_scheduled", old),  # its next attempt has not run yet
            ("ran", "scheduled", old),
            ("ran", "succeeded", old - timedelta(hours=1)),
            ("failed", "retry_scheduled", old),
            ("failed", "dead_lettered", old - timedelta(minutes=5)),
            ("recent", "scheduled", old),
            ("recent", "cancelled", timedelta(days=1)),  # ended, but its final row is recent
        ],
    )
    by_status, kept = prune_preview(engine, older_than=timedelta(days=30), now=NOW)
    assert by_status == {"dead_lettered": 1, "retry_scheduled": 1, "scheduled": 2, "succeeded": 1}
    assert kept == 2

    assert prune_eventlog(engine, older_than=timedelta(days=30), batch_size=2, now=NOW) == 5

    assert job_ids(engine) == {"waiting/scheduled", "retrying/retry_scheduled", "recent/cancelled"}
    assert prune_preview(engine, older_than=timedelta(days=30), now=NOW) == ({}, 2)
