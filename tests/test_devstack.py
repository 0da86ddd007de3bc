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

from devtools.devstack_proc import start_devstack
from devtools.embedded import free_port, wait_for_port

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
    proc, output = start_devstack(env)  # its own process group, like a terminal's foreground job
    try:
        kafka_line = next(line for line in output if line.strip().startswith("Kafka"))
        kafka_port = int(kafka_line.split()[1].rsplit(":", 1)[1].rstrip())
        wait_for_port("127.0.0.1", int(env["AUTOMATION_GRPC_PORT"]), 20)

        grpcurl = shutil.which("grpcurl", path=str(BIN)) or shutil.which("grpcurl")
        # The banner's own commands work as printed, from the repo root, with no venv on PATH.
        try_line = next(line for line in output if "try:" in line).split("try:", 1)[1].strip()
        assert try_line.startswith(".venv/bin/grpcurl ") or not (ROOT / ".venv").exists(), try_line
        bare_env = {**env, "PATH": "/usr/bin:/bin"}
        banner_listed = subprocess.run(
            try_line, shell=True, cwd=ROOT, env=bare_env, capture_output=True, text=True, timeout=20
        )
        assert "automation.v1.AutomationService" in banner_listed.stdout.split(), banner_listed.stderr
        for line in output:
            for word in line.split():
                if word.startswith("http://"):
                    assert _get(word)[0] == 200, word
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
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        rest, _ = proc.communicate(timeout=40)
        output.append(rest)
    log = "".join(output)
    assert proc.returncode == 0, log
    assert "exited" not in log, log
    assert "trigger service stopped" in log and "executor service stopped" in log
    # Everything it started is gone: the broker and the services' ports no longer answer.
    for port in (kafka_port, int(env["AUTOMATION_GRPC_PORT"])):
        with pytest.raises(RuntimeError):
            wait_for_port("127.0.0.1", port, 0.5)


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, None])
def test_make_run_stops_cleanly_on_sigterm_and_loudly_when_a_service_dies(devstack_env, stop_signal):
    proc, output = start_devstack(devstack_env)
    try:
        wait_for_port("127.0.0.1", int(devstack_env["AUTOMATION_GRPC_PORT"]), 30)
        time.sleep(2)  # both services past start-up (their signal handlers installed)
        if stop_signal is not None:
            proc.send_signal(stop_signal)  # `kill <pid>`: the parent alone
        else:
            executor = next(c for c in _children(proc.pid) if "executor_service" in _cmdline(c))
            os.kill(executor, signal.SIGKILL)  # the service dies on its own
        rest, _ = proc.communicate(timeout=60)
        output.append(rest)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    log = "".join(output)
    if stop_signal is not None:
        assert proc.returncode == 0, log
        assert "exited" not in log and "trigger service stopped" in log, log
    else:
        assert proc.returncode == 1, log
        assert "executor_service exited on its own (exit code -9); stopping everything" in log, log
        assert "trigger service stopped" in log, log  # the other service was stopped, not left behind
