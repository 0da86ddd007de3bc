"""automationctl's maintenance commands fail with one readable line when a backend is down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from automationctl.output import short

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automationctl", *argv],
        env={**os.environ, **env},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_topics_ensure_against_a_dead_broker_prints_one_line() -> None:
    address = f"127.0.0.1:{free_port()}"
    run = cli({"AUTOMATION_KAFKA_BOOTSTRAP_SERVERS": address}, "--timeout", "2", "topics", "ensure")
    assert run.returncode == 3
    assert run.stderr.splitlines() == [run.stderr.strip()], run.stderr  # no librdkafka chatter
    assert run.stderr.startswith(f"automationctl: cannot reach Kafka at {address}")


def test_prune_against_a_dead_database_says_so_in_full() -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/x"
    run = cli({"AUTOMATION_DATABASE_URL": url}, "prune", "--dry-run")
    assert run.returncode == 3
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"automationctl: cannot reach the database at {url}: connection failed")
    assert "…" not in line and line.rstrip().endswith(("connections?", "refused"))


def test_short_cuts_at_a_word_boundary() -> None:
    assert short("connection to server failed", 60) == "connection to server failed"
    assert short("connection to server at host failed: refused", 30) == "connection to server at host…"
    assert short("a\nb\tc", 10) == "a b c"
    assert short("x" * 50, 10) == "x" * 9 + "…"
