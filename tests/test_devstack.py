"""`make run` and `make demo` as a user runs them: processes, sockets, grpcurl, metrics, Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.devstack import BANNER_LAST_LINE
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


def _stop(proc: subprocess.Popen, output: list[str], sig: int | None = signal.SIGTERM) -> str:
    try:
        if sig is not None and proc.poll() is None:
            proc.send_signal(sig)
        output.append(proc.communicate(timeout=60)[0])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return "".join(output)


def test_make_run_stops_cleanly_on_sigterm(devstack_env):
    proc, output = start_devstack(devstack_env)
    time.sleep(2)  # both services past start-up (their signal handlers installed)
    log = _stop(proc, output)  # `kill <pid>`: the parent alone
    assert proc.returncode == 0, log
    assert "exited" not in log and "trigger service stopped" in log, log


def _succeeded_rows(var_dir: Path, key: str) -> int:
    import sqlite3

    with contextlib.closing(sqlite3.connect(var_dir / "automation.db")) as db:
        query = "select count(*) from event_log where idempotency_key = ? and status = 'succeeded'"
        return int(db.execute(query, (key,)).fetchone()[0])


@pytest.mark.parametrize("victim", ["executor_service", "trigger_service"])
def test_make_run_restarts_a_killed_service_and_loses_no_accepted_job(devstack_env, victim):
    """kill -9 of one service: `make run` starts it again on the same broker and Redis, whose jobs
    live in memory only; stopping everything instead would drop every job accepted but not yet run."""
    import grpc

    from automationctl.demo_bookings import daytime_zone, demo_request
    from shared.proto.automation.v1 import automation_pb2 as pb
    from shared.proto.automation.v1 import automation_pb2_grpc as pb_grpc

    proc, output = start_devstack(devstack_env)
    var_dir = Path(devstack_env["AUTOMATION_VAR_DIR"])
    target = f"127.0.0.1:{devstack_env['AUTOMATION_GRPC_PORT']}"
    try:
        time.sleep(2)
        pid = next(c for c in _children(proc.pid) if victim in _cmdline(c))
        if victim == "executor_service":
            os.kill(pid, signal.SIGKILL)  # dead before the job below is accepted: only a restart runs it
        zone = daytime_zone(datetime.now(UTC))
        request = demo_request(
            "crash-1", pb.AUTOMATION_TYPE_BOOKING_CONFIRMATION, pb.RECIPIENT_CLIENT, timezone=zone
        )
        deadline = time.monotonic() + 60
        while True:  # a caller retries UNAVAILABLE with the same key
            try:
                with grpc.insecure_channel(target) as channel:
                    answer = pb_grpc.AutomationServiceStub(channel).EnqueueAutomation(request, timeout=5)
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.UNAVAILABLE and time.monotonic() < deadline, e
                time.sleep(0.5)
        if victim == "trigger_service":
            os.kill(pid, signal.SIGKILL)
        while _succeeded_rows(var_dir, answer.idempotency_key) == 0:
            assert proc.poll() is None, "make run stopped: " + _stop(proc, output, None)
            assert time.monotonic() < deadline, "the accepted job never ran"
            time.sleep(0.5)
        # started again (after a grace second: the job above may run before that)
        while not [c for c in _children(proc.pid) if c != pid and victim in _cmdline(c)]:
            assert proc.poll() is None and time.monotonic() < deadline, "not started again"
            time.sleep(0.2)
    finally:
        log = _stop(proc, output)
    assert f"{victim} exited on its own (exit code -9); starting it again" in log, log
    assert proc.returncode == 0, log


def test_make_run_stops_loudly_when_a_service_cannot_start(devstack_env):
    # sms without credentials: the executor refuses to start (exit code 2); starting it again would not help
    env = {**devstack_env, "AUTOMATION_DEFAULT_CHANNEL": "sms"}
    run = subprocess.run(
        [sys.executable, "-m", "devtools.devstack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=90,
    )
    log = run.stdout
    assert run.returncode == 1, log
    assert BANNER_LAST_LINE not in log, log  # never said it was up
    assert "executor_service exited on its own (exit code 2); stopping everything" in log, log
    assert "trigger service stopped" in log, log  # the other service was stopped, not left behind


def _descendants(root: int) -> set[int]:
    """Every process under ``root`` now (from /proc's parent links)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (its parent has not reaped it yet)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG")
@pytest.mark.parametrize("victim", ["make", "devstack"])
def test_kill_9_of_make_run_leaves_no_process_behind(devstack_env, victim):
    """An operator's kill -9 of `make run` (the make process, or the Python process it runs) stops the
    services, the broker and everything else it started: none of them is left running, orphaned."""
    make = ["make", "-s", "--no-print-directory", "-o", ".venv/.installed", "run", f"PY={sys.executable}"]
    proc, output = start_devstack(devstack_env, argv=make)
    try:
        tree = _descendants(proc.pid)
        [devstack] = [pid for pid in tree if "devtools.devstack" in Path(f"/proc/{pid}/cmdline").read_text()]
        names = {Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ") for pid in tree}
        assert any("trigger_service" in n for n in names) and any("broker" in n for n in names), names
        os.kill(proc.pid if victim == "make" else devstack, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (left := {pid for pid in tree if _alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, [Path(f"/proc/{pid}/cmdline").read_text() for pid in left]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in filter(_alive, tree):  # what a failure above left running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.communicate()
