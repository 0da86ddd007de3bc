"""Migrations run as an init container of every trigger pod (deploy/k8s/base/trigger.yaml): replicas that
start together must not trip over each other. Several ``automation-migrate`` processes against one fresh
PostgreSQL database all succeed and leave the schema at head exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from tests.support.processes import ROOT

PROCESSES = 4
# Each process imports everything first, then all call upgrade() at the same instant (a race without a
# lock fails on CREATE TABLE in most runs).
CHILD = """
import sys, time
from shared.db.migrate import upgrade
start = float(sys.argv[1])
time.sleep(max(0.0, start - time.time()))
upgrade(sys.argv[2])
"""


@pytest.mark.postgres
def test_concurrent_migrations_on_one_database_all_succeed(postgres_url):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env.update(AUTOMATION_DATABASE_URL=postgres_url, AUTOMATION_LOG_LEVEL="WARNING")
    start = time.time() + 6  # the imports take 1-2 s each on a busy machine
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start), postgres_url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * PROCESSES, "\n---\n".join(outputs)
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert len(versions) == 1, versions
