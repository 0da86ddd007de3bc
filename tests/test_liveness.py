"""Liveness of a real executor process (``/healthz``) on the real broker: it fails when the consume loop
is stuck, and only then — not during a long but healthy batch, not while an outage pauses consumption
(when readiness fails instead). Stall time 2-2.5 s here (default 120 s)."""

from __future__ import annotations

import re
import socket
import time

import pytest
from pydantic import SecretStr

from devtools.embedded import start_valkey
from tests.support.jobs import make_job, produce_jobs
from tests.support.pipeline import eventlog_rows, wait_until
from tests.support.probes import sample, status
from tests.support.processes import ExecutorProcess

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]
FAST_GROUP = {"session_timeout_ms": 6000}


def test_a_send_that_never_returns_fails_liveness(settings, tmp_path) -> None:
    """The webhook receiver accepts the connection and never answers; the timeout is an hour. The loop
    is stuck in the send: /healthz turns 503 after the stall time, and the log shows where it hangs."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody ever reads
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with ExecutorProcess(
            settings, tmp_path, webhook_url=url, webhook_timeout_s=3600, liveness_stall_s=2.5, **FAST_GROUP
        ) as executor:
            executor.wait_ready(60)
            idle = sample(executor.metrics_url, 3.5)  # longer than the stall time, with nothing to do
            assert set(idle) == {(200, 200)}, "an idle loop is alive (it polls) and ready"
            produce_jobs(settings, [make_job()])
            started = time.monotonic()
            wait_until(
                lambda: status(executor.metrics_url, "/healthz") == 503, timeout_s=30, what="/healthz 503"
            )
            assert time.monotonic() - started >= 2.0, "not before the stall time"
            wait_until(lambda: "liveness failing" in executor.log_text(), timeout_s=5, what="stall line")
    log = executor.log_text()
    assert re.search(r"channels\.py.*in send", log), "the stall line carries the stuck lane's stack"
    assert eventlog_rows(settings.sqlalchemy_url) == [], "nothing was recorded for the stuck job"


def test_a_long_batch_and_an_outage_pause_stay_live(settings, http_receiver, tmp_path) -> None:
    """1) 16 jobs at 0.25 s each through one lane: the batch takes about twice the stall time, yet every
    finished send is progress, so /healthz stays 200 throughout. 2) Redis stops: consumption pauses,
    /readyz is 503 for longer than the stall time while /healthz stays 200 (the loop keeps polling);
    Redis back -> ready again and the job sent during the outage is delivered."""
    server = start_valkey(log_path=tmp_path / "valkey.log")
    port = int(server.address.rsplit(":", 1)[1].split("/")[0])
    settings = settings.model_copy(update={"redis_url": SecretStr(server.address)})
    http_receiver.delay_s = 0.25
    jobs = [make_job(f"b-{i}") for i in range(16)]
    produce_jobs(settings, jobs)
    try:
        with ExecutorProcess(
            settings, tmp_path, executor_concurrency=1, liveness_stall_s=2.0, **FAST_GROUP
        ) as executor:
            wait_until(
                lambda: status(executor.metrics_url, "/healthz") == 200, timeout_s=60, what="metrics server"
            )
            seen = []
            deadline = time.monotonic() + 60
            while len(eventlog_rows(settings.sqlalchemy_url)) < 16:
                assert time.monotonic() < deadline, executor.log_tail()
                seen += sample(executor.metrics_url, 0.5)
            times = [r.received_at for r in http_receiver.requests]
            assert max(times) - min(times) > 3.0, "the sends took longer than the stall time"
            assert {h for h, _ in seen} == {200}, f"/healthz failed during a healthy batch: {seen}"
            assert len(seen) > 30

            http_receiver.delay_s = 0.0
            server.kill()
            produce_jobs(settings, [make_job("b-outage")])
            wait_until(
                lambda: status(executor.metrics_url, "/readyz") == 503, timeout_s=30, what="/readyz 503"
            )
            outage = sample(executor.metrics_url, 5.0)
            assert set(outage) == {(200, 503)}, f"an outage pause is not a stall: {outage}"
            server = start_valkey(port=port, log_path=tmp_path / "valkey2.log")
            wait_until(
                lambda: len(eventlog_rows(settings.sqlalchemy_url)) == 17, timeout_s=30, what="17 rows"
            )
            wait_until(
                lambda: status(executor.metrics_url, "/readyz") == 200, timeout_s=10, what="ready again"
            )
            assert status(executor.metrics_url, "/healthz") == 200
    finally:
        server.stop()
