"""automationctl prune is safe to type: keeps unfinished jobs, previews, confirms, refuses a zero age."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from automationctl.main import main
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade
from shared.db.models import EventLog

ROOT = Path(__file__).resolve().parent.parent
TABLE = EventLog.__table__


def add_rows(url: str, rows: list[tuple[str, str, float]]) -> None:
    """Rows of (idempotency key, status, age in days); job id ``<key>/<status>``."""
    now = datetime.now(UTC)
    values = [
        {
            "job_id": f"{key}/{status}",
            "idempotency_key": key,
            "automation_type": "bookingConfirmation",
            "recipient": "client",
            "booking_id": "b-1",
            "status": status,
            "attempt": 1,
            "inputs": {},
            "started_at": now - timedelta(days=age),
            "finished_at": now - timedelta(days=age),
            "duration_ms": 1.0,
            "kafka_topic": "automation.jobs",
            "kafka_partition": 0,
            "kafka_offset": i,
        }
        for i, (key, status, age) in enumerate(rows)
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(TABLE), values)
    engine.dispose()


def job_ids(url: str) -> set[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        ids = set(conn.scalars(select(TABLE.c.job_id)))
    engine.dispose()
    return ids


ROWS = [
    ("due-next-week", "scheduled", 40),  # a job still waiting in the delay topics
    ("retrying", "retry_scheduled", 40),
    ("sent", "succeeded", 40),
    ("bad", "dead_lettered", 35),
    ("today", "succeeded", 0.1),
]
EVERY_JOB = {f"{key}/{status}" for key, status, _ in ROWS}


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> tuple[str, Settings]:
    upgrade(database_url)
    add_rows(database_url, ROWS)
    return database_url, Settings(database_url=database_url, var_dir=tmp_path)


def run_cli(url: str, *argv: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOMATION_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "automationctl", *argv],
        env=env,
        cwd=ROOT,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dry_run_counts_per_status_and_deletes_nothing(db, capsys) -> None:
    url, settings = db
    code = main(["--json", "prune", "--older-than-days", "30", "--dry-run"], settings=settings)
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["by_status"] == {"dead_lettered": 1, "succeeded": 1}
    assert (doc["would_delete"], doc["kept_not_final"], doc["deleted"]) == (2, 2, 0)
    assert job_ids(url) == EVERY_JOB

    assert main(["prune", "--older-than-days", "30", "--dry-run"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "would delete 2 EventLog row(s) older than 30 day(s)" in out
    assert "dead_lettered" in out and "keeps 2 older row(s) of jobs not yet in a final state" in out


def test_without_yes_and_without_a_terminal_it_refuses(db) -> None:
    url, _ = db
    run = run_cli(url, "prune", "--older-than-days", "30")
    assert run.returncode == 2
    assert "would delete 2 EventLog row(s)" in run.stderr and "--yes" in run.stderr
    assert job_ids(url) == EVERY_JOB


def test_with_yes_it_keeps_the_jobs_that_have_not_finished(db) -> None:
    url, _ = db
    run = run_cli(url, "--json", "prune", "--older-than-days", "30", "--yes")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"deleted": 2, "older_than_days": 30, "kept_not_final": 2}
    assert job_ids(url) == {"due-next-week/scheduled", "retrying/retry_scheduled", "today/succeeded"}


def test_an_age_below_one_day_needs_force(db, capsys) -> None:
    url, settings = db
    assert main(["prune", "--older-than-days", "0", "--yes"], settings=settings) == 2
    assert "--force" in capsys.readouterr().err
    assert job_ids(url) == EVERY_JOB

    assert main(["prune", "--older-than-days", "0", "--yes", "--force"], settings=settings) == 0
    # Even at age 0, the jobs still waiting keep their rows.
    assert job_ids(url) == {"due-next-week/scheduled", "retrying/retry_scheduled"}


def _answer_on_a_terminal(url: str, answer: bytes) -> tuple[int, str]:
    """Run prune with a pseudo-terminal as stdin; answer its question; (exit code, what it printed)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "AUTOMATION_DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "automationctl", "prune", "--older-than-days", "30"],
        env=env,
        cwd=ROOT,
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        seen += os.read(leader, 1024)
    os.write(leader, answer)
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    return proc.returncode, seen.decode() + out.decode()


def test_on_a_terminal_it_asks_first(db) -> None:
    url, _ = db
    code, text = _answer_on_a_terminal(url, b"n\n")
    assert "Delete 2 EventLog row(s) older than 30 day(s) (keeping 2 of jobs not yet final)? [y/N]" in text
    assert code == 2 and job_ids(url) == EVERY_JOB

    code, text = _answer_on_a_terminal(url, b"y\n")
    assert code == 0 and "deleted 2 EventLog row(s)" in text
    assert len(job_ids(url)) == 3


def test_nothing_to_delete_needs_no_confirmation(db) -> None:
    url, _ = db
    run = run_cli(url, "prune", "--older-than-days", "60")
    assert run.returncode == 0 and "nothing to delete: 0 EventLog row(s)" in run.stdout
    assert job_ids(url) == EVERY_JOB
