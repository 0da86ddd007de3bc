"""The executor waits for the schema it needs (real PostgreSQL, real broker, ``python -m executor_service``):
against an empty database it does not consume and is not ready (but alive); once ``automation-migrate``
ran it starts by itself and processes the job that waited in the topic. The trigger serves enqueues
meanwhile; its operator calls answer UNAVAILABLE "schema not migrated" until then."""

from __future__ import annotations

import json

import grpc
import pytest
from pydantic import SecretStr

from shared.db.migrate import upgrade
from shared.db.schema import code_revisions
from shared.proto.automation.v1 import automation_pb2 as pb
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, running_trigger, wait_until
from tests.support.probes import sample, status
from tests.support.processes import ExecutorProcess
from tests.support.sample import sample_request
from tests.support.trigger_process import TriggerProcess, trigger_env

pytestmark = [pytest.mark.slow]


@pytest.mark.postgres
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("empty", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_trigger_serves_enqueues_but_not_operator_calls_before_the_schema(settings, empty, request, tmp_path):
    """Enqueueing needs no database: the trigger serves it at once. Operator calls answer UNAVAILABLE
    'schema not migrated' until the migration ran, then work."""
    url = f"sqlite:///{tmp_path}/empty.db" if empty == "sqlite" else request.getfixturevalue("postgres_url")
    settings = settings.model_copy(update={"database_url": SecretStr(url)})
    with running_trigger(settings) as (stub, _):
        accepted = stub.EnqueueAutomation(sample_request("b-schema"), timeout=10)
        assert accepted.job_id
        with pytest.raises(grpc.RpcError) as refused:
            stub.GetAutomationRuns(pb.GetAutomationRunsRequest(job_id=accepted.job_id), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert refused.value.details().startswith("schema not migrated")
        upgrade(url)
        runs = stub.GetAutomationRuns(pb.GetAutomationRunsRequest(job_id=accepted.job_id), timeout=10)
        assert list(runs.runs) == [], "answered (the executor has not run it: no rows yet)"
        listed = stub.ListDeadLetters(pb.ListDeadLettersRequest(), timeout=10)
        assert list(listed.dead_letters) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_trigger_process_is_ready_and_says_what_schema_it_waits_for(settings, tmp_path):
    """``python -m trigger_service`` against an empty database: it listens and is ready (enqueueing needs
    no schema) and logs which revision it waits for; once migrated it says the schema is usable."""
    url = f"sqlite:///{tmp_path}/empty.db"
    env = trigger_env(settings.model_copy(update={"database_url": SecretStr(url)}))
    with TriggerProcess(env) as trigger:
        trigger.wait_listening()
        wait_until(lambda: "waiting for the database schema" in trigger.log_text(), timeout_s=30, what="line")
        base = f"http://127.0.0.1:{trigger.metrics_port}"
        assert (status(base, "/healthz"), status(base, "/readyz")) == (200, 200)
        [line] = [json.loads(x) for x in trigger.log_lines() if "waiting for the database schema" in x]
        assert (line["schema_revision"], line["schema_needed"]) == ("none", code_revisions()[0])
        upgrade(url)
        wait_until(lambda: "database schema usable" in trigger.log_text(), timeout_s=30, what="usable line")
        assert trigger.terminate() == 0
