"""`make run` and `make demo` as a user runs them: processes, sockets, grpcurl, metrics, Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from shared.embedded import free_port, wait_for_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""


@pytest.fixture
def devstack_env(redis_db_url, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    env.update(
        AUTOMATION_REDIS_URL=redis_db_url,
        AUTOMATION_VAR_DIR=str(tmp_path / "var"),
        AUTOMATION_GRPC_PORT=str(free_port()),
        AUTOMATION_TRIGGER_METRICS_PORT=str(free_port()),
        AUTOMATION_EXECUTOR_METRICS_PORT=str(free_port()),
        AUTOMATION_SESSION_TIMEOUT_MS="6000",
    )
    return env


def test_make_run_serves_grpcurl_demo_metrics_and_stops_on_ctrl_c(devstack_env):
    env = devstack_env
    grpc_addr = f"127.0.0.1:{env['AUTOMATION_GRPC_PORT']}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.devstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any("make demo" in line for line in output):
            assert proc.poll() is None and time.monotonic() < deadline, "".join(output)
            output.append(proc.stdout.readline())
        kafka_line = next(line for line in output if line.strip().startswith("Kafka"))
        kafka_port = int(kafka_line.split()[1].rsplit(":", 1)[1].rstrip())
        wait_for_port("127.0.0.1", int(env["AUTOMATION_GRPC_PORT"]), 20)

        grpcurl = shutil.which("grpcurl", path=str(BIN)) or shutil.which("grpcurl")
        listed = subprocess.run(
            [grpcurl, "-plaintext", grpc_addr, "list"], capture_output=True, text=True, timeout=20
        )
        assert listed.returncode == 0, listed.stderr
        assert "automation.v1.AutomationService" in listed.stdout.split()
        assert "grpc.health.v1.Health" in listed.stdout.split()
        health = subprocess.run(
            [grpcurl, "-plaintext", grpc_addr, "grpc.health.v1.Health/Check"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert '"status": "SERVING"' in health.stdout, health.stdout + health.stderr

        demo = subprocess.run(
            [sys.executable, "-m", "devtools.demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert demo.stdout.count(" succeeded ") == 3, demo.stdout
        assert demo.stdout.count(" scheduled ") == 1, demo.stdout  # the night-before reminder
        assert "duplicate=True" in demo.stdout

        trigger_metrics = f"http://127.0.0.1:{env['AUTOMATION_TRIGGER_METRICS_PORT']}"
        executor_metrics = f"http://127.0.0.1:{env['AUTOMATION_EXECUTOR_METRICS_PORT']}"
        status, text = _get(trigger_metrics + "/metrics")
        assert status == 200
        assert 'automation_grpc_requests_total{code="OK",method="EnqueueAutomation"} 5.0' in text
        assert (
            'automation_enqueued_jobs_total{automation_type="ownerNewBookingAlert",result="duplicate"} 1.0'
            in text
        )
        status, text = _get(executor_metrics + "/metrics")
        assert status == 200
        assert 'automation_jobs_total{automation_type="bookingConfirmation",status="succeeded"} 1.0' in text
        assert _get(executor_metrics + "/healthz")[0] == 200
        assert _get(executor_metrics + "/readyz")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=40)
        output.append(rest)
    log = "".join(output)
    assert proc.returncode == 0, log
    assert "trigger service stopped" in log and "executor service stopped" in log
    # Everything it started is gone: the broker and the services' ports no longer answer.
    for port in (kafka_port, int(env["AUTOMATION_GRPC_PORT"])):
        with pytest.raises(RuntimeError):
            wait_for_port("127.0.0.1", port, 0.5)
