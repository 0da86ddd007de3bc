"""The executor waits for the schema it needs (real PostgreSQL, real broker, ``python -m executor_service``):
against an empty database it does not consume and is not ready (but alive); once ``automation-migrate``
ran it starts by itself and processes the job that waited in the topic."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from shared.db.migrate import upgrade
from shared.db.schema import code_revisions
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, wait_until
from tests.support.probes import sample
from tests.support.processes import ExecutorProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the topics and receiver of `settings`
def test_executor_consumes_only_once_the_schema_is_migrated(settings, postgres_url, http_receiver, tmp_path):
    settings = settings.model_copy(update={"database_url": SecretStr(postgres_url)})  # empty database
    job = make_job()
    produce_jobs(settings, [job])
    with ExecutorProcess(settings, tmp_path, session_timeout_ms=6000) as executor:
        wait_until(
            lambda: "waiting for the database schema" in executor.log_text(), timeout_s=60, what="wait line"
        )
        [line] = [json.loads(x) for x in executor.log_text().splitlines() if "waiting for the database" in x]
        assert (line["schema_revision"], line["schema_needed"]) == ("none", code_revisions()[0])
        assert line["level"] == "warning" and "run automation-migrate" in line["msg"]
        waiting = sample(executor.metrics_url, 3.0)  # longer than a schema check interval
        assert set(waiting) == {(200, 503)}, "alive, not ready"
        assert http_receiver.requests == [] and "partitions assigned" not in executor.log_text()

        upgrade(postgres_url)  # automation-migrate
        executor.wait_ready(60)
        http_receiver.wait_for(1, timeout_s=30)
        rows = wait_until(lambda: eventlog_rows(postgres_url), timeout_s=30, what="the job's row")
    assert [(r.job_id, r.status) for r in rows] == [(job.job_id, "succeeded")]
    assert "database schema usable" in executor.log_text()
