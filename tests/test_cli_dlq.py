"""automationctl dlq after a simulated bad night, prune and topics ensure — on real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from sqlalchemy import func, insert, select

from automationctl.main import main
from shared.config import Settings
from shared.db.engine import make_engine
from shared.db.migrate import upgrade
from shared.db.models import EventLog
from tests.support.pipeline import running_executor, running_trigger, wait_rows
from tests.support.sample import sample_request

ROOT = Path(__file__).resolve().parent.parent
NIGHT = 50


def cli_json(
    capsys: pytest.CaptureFixture[str], *argv: str, settings: Settings | None = None
) -> tuple[int, Any]:
    """Run ``automationctl --json ...`` in this process: (exit code, the JSON document)."""
    code = main(["--json", *argv], settings=settings)
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.slow
@pytest.mark.chaos
def test_a_bad_night_is_listed_then_replayed_exactly_once(
    settings, http_receiver, capsys, tmp_path: Path
) -> None:
    night = uuid.uuid4().hex[:8]
    requests = [sample_request(f"night-{night}-{i}") for i in range(NIGHT)]
    keys = {f"ownerNewBookingAlert:client:night-{night}-{i}:1" for i in range(NIGHT)}
    bookings = tmp_path / "night.json"
    bookings.write_text(json.dumps([json_format.MessageToDict(r) for r in requests]))
    http_receiver.respond_with([400])  # permanent: dead-lettered at the first attempt

    with running_trigger(settings) as (_, trigger), running_executor(settings):
        target = ["--target", f"127.0.0.1:{trigger.port}"]
        code, doc = cli_json(capsys, *target, "enqueue", "--file", str(bookings))
        assert code == 0 and doc["accepted"] == NIGHT
        wait_rows(settings.sqlalchemy_url, NIGHT, timeout_s=60, status="dead_lettered")

        code, doc = cli_json(capsys, *target, "dlq", "list", "--limit", "500")
        letters = doc["dead_letters"]
        assert code == 0 and {d["run"]["idempotency_key"] for d in letters} == keys
        error_class = letters[0]["run"]["error_class"]
        assert error_class and all(d["run"]["error_class"] == error_class for d in letters)
        for narrowing, expected in [
            (["--error-class", error_class, "--type", "ownerNewBookingAlert"], NIGHT),
            (["--type", "bookingConfirmation"], 0),
            (["--booking-id", f"night-{night}-7"], 1),
            (["--since", (datetime.now(UTC) + timedelta(hours=1)).isoformat()], 0),
            (["--limit", "10"], 10),
        ]:
            code, doc = cli_json(capsys, *target, "dlq", "list", *narrowing)
            assert (code, len(doc["dead_letters"])) == (0, expected), narrowing
        assert main([*target, "dlq", "list"]) == 0
        assert "+1415" not in capsys.readouterr().out, "no phone numbers in tables"

        code, doc = cli_json(capsys, *target, "dlq", "replay", "--dry-run")
        assert code == 0 and doc["would_replay"] == NIGHT
        time.sleep(1)
        assert len(http_receiver.requests) == NIGHT, "a dry run sends nothing"

        http_receiver.respond_with([200])  # morning: the receiver recovered
        code, doc = cli_json(capsys, *target, "dlq", "replay", "--yes")
        assert code == 0 and doc["count"] == NIGHT and doc["not_replayed"] == 0
        assert {j["idempotency_key"] for j in doc["replayed"]} == keys
        wait_rows(settings.sqlalchemy_url, NIGHT, timeout_s=60, status="succeeded")

        code, doc = cli_json(capsys, *target, "dlq", "replay", "--yes")
        assert code == 0 and doc["count"] == 0, "nothing is replayed twice"
        code, doc = cli_json(capsys, *target, "dlq", "list")
        assert doc["dead_letters"] == []
        code, doc = cli_json(capsys, *target, "dlq", "list", "--include-replayed", "--limit", "500")
        assert len(doc["dead_letters"]) == NIGHT and all(d["replayed_as_job_id"] for d in doc["dead_letters"])
        code, doc = cli_json(capsys, *target, "runs", "--key", sorted(keys)[0])
        # the replay's success may be written before the original's `replayed` row: no order asserted
        assert sorted(r["status"] for r in doc["runs"]) == ["dead_lettered", "replayed", "succeeded"]
        time.sleep(2)  # anything sent twice would arrive by now

    delivered = Counter(r.headers["idempotency-key"] for r in http_receiver.requests if r.status == 200)
    assert delivered == dict.fromkeys(keys, 1), "each job delivered exactly once"
    assert len(http_receiver.requests) == 2 * NIGHT


def test_replay_without_yes_refuses_when_stdin_is_no_tty() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "automationctl", "--target", "127.0.0.1:1", "dlq", "replay"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 2 and "--yes" in run.stderr


def _rows(url: str, ages_days: list[int]) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "job_id": uuid.uuid4().hex,
            "idempotency_key": uuid.uuid4().hex,
            "automation_type": "bookingConfirmation",
            "recipient": "client",
            "booking_id": "b-1",
            "status": "succeeded",
            "attempt": 1,
            "inputs": {},
            "started_at": now - timedelta(days=age),
            "finished_at": now - timedelta(days=age),
            "duration_ms": 1.0,
            "kafka_topic": "automation.jobs",
            "kafka_partition": 0,
            "kafka_offset": i,
        }
        for i, age in enumerate(ages_days)
    ]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(EventLog.__table__), rows)
    engine.dispose()


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(EventLog.__table__))
    engine.dispose()
    return n or 0


def test_prune_deletes_old_rows_in_batches(sqlite_url: str, capsys, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    _rows(sqlite_url, [90, 60, 45, 31, 10, 1])
    settings = Settings(database_url=sqlite_url, var_dir=tmp_path)
    code, doc = cli_json(
        capsys, "prune", "--older-than-days", "40", "--batch-size", "2", "--yes", settings=settings
    )
    assert (code, doc["deleted"], _count(sqlite_url)) == (0, 3, 3)
    code = main(["prune", "--progress", "-y"], settings=settings)  # the default retention: 30 days
    captured = capsys.readouterr()
    assert code == 0 and "deleted 1 EventLog row(s) older than 30 day(s)" in captured.out
    assert "pruned rows 1" in captured.err and _count(sqlite_url) == 2


def test_prune_reads_the_environment_in_a_subprocess(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    _rows(sqlite_url, [400, 2])
    env = {**os.environ, "AUTOMATION_DATABASE_URL": sqlite_url, "AUTOMATION_EVENTLOG_RETENTION_DAYS": "365"}
    run = subprocess.run(
        [sys.executable, "-m", "automationctl", "--json", "prune", "--yes"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"deleted": 1, "older_than_days": 365, "kept_not_final": 0}


@pytest.mark.slow
def test_topics_ensure_creates_then_finds_them(kafka_bootstrap: str, capsys, tmp_path: Path) -> None:
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        jobs_topic=f"test.{uuid.uuid4().hex[:10]}",
        jobs_topic_partitions=2,
        retry_tiers_s=[2, 4],
        delay_tiers_s=[1],
        var_dir=tmp_path,
    )
    code, doc = cli_json(capsys, "topics", "ensure", settings=settings)
    jobs = settings.jobs_topic
    expected = {jobs, f"{jobs}.retry.2s", f"{jobs}.retry.4s", f"{jobs}.delay.1s", f"{jobs}.dlq"}
    assert code == 0 and doc["topics"] == dict.fromkeys(expected, "created")
    assert main(["topics", "ensure"], settings=settings) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["topic", "result"] and sorted(line.split()[1] for line in lines[1:]) == [
        "exists"
    ] * len(expected)
