"""The services as real OS processes: ``python -m trigger_service`` and ``python -m executor_service``,
configured only through AUTOMATION_* environment variables, logging to files in the run's work dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench import procfs
from bench.profiling import PySpy
from bench.stack import Stack
from devtools.embedded import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
SESSION_TIMEOUT_MS = 6000  # Tansu: a group join takes about half of it


def service_env(stack: Stack, **fields: object) -> dict[str, str]:
    """os.environ without AUTOMATION_* variables, plus the bench defaults, plus ``fields``
    (Settings field names, without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    values = {
        "kafka_bootstrap_servers": stack.kafka_bootstrap,
        "redis_url": stack.redis_url,
        "var_dir": str(stack.work_dir / "var"),
        "listen_host": "127.0.0.1",
        "session_timeout_ms": SESSION_TIMEOUT_MS,
        "idempotency_ttl_s": 3600,  # bench keys are never asked for again: let Redis forget them soon
        # Short, but Settings requires dedup TTL >= jobs topic retention > longest delay tier (65536 s).
        "dedup_ttl_s": 86400,
        "jobs_topic_retention_ms": 86400 * 1000,
        "default_channel": "null",
        **fields,
    }
    env.update({f"AUTOMATION_{name.upper()}": str(value) for name, value in values.items()})
    return env


class Service:
    """One service process; its output goes to ``<work_dir>/<name>.log``."""

    def __init__(self, stack: Stack, name: str, module: str, env: dict[str, str]) -> None:
        self.name = name
        self.env = env
        self.log_path = stack.work_dir / f"{name}.log"
        self.peak_rss_mib: float | None = None
        self._profiler: PySpy | None = None
        self.started_at = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}\n{self.log_text()[-3000:]}")

    def wait_for_log(self, text: str, timeout_s: float) -> float:
        """Wait until ``text`` appears in the log; return the monotonic time it was seen."""
        deadline = time.monotonic() + timeout_s
        while text not in self.log_text():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {text!r} after {timeout_s}s\n{self.log_text()[-3000:]}")
            time.sleep(0.02)
        return time.monotonic()

    def profile(self, out_path: Path | None) -> None:
        """Start sampling this process with py-spy into ``out_path`` (nothing when None)."""
        if out_path is not None:
            self._profiler = PySpy(self.pid, out_path)

    def end_profile(self) -> list[str]:
        """Stop the profiler (if any); return its summary lines."""
        profiler, self._profiler = self._profiler, None
        return profiler.stop() if profiler else []

    def stop(self, timeout_s: float = 30.0) -> None:
        """Record peak RSS, then SIGTERM (SIGKILL after ``timeout_s``). Safe to call twice."""
        self.end_profile()
        if self.proc.poll() is None:
            self.peak_rss_mib = procfs.peak_rss_mib(self.pid)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Trigger(Service):
    def __init__(self, stack: Stack, name: str, jobs_topic: str, **fields: object) -> None:
        self.port = free_port()
        env = service_env(
            stack, jobs_topic=jobs_topic, grpc_port=self.port, trigger_metrics_port=free_port(), **fields
        )
        super().__init__(stack, name, "trigger_service", env)
        try:
            self._wait_serving()
        except BaseException:
            self.stop()
            raise

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _wait_serving(self, timeout_s: float = 30.0) -> None:
        wait_for_port("127.0.0.1", self.port, timeout_s, proc=self.proc, log_path=self.log_path)
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + timeout_s
            while stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status != 1:  # SERVING
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} not SERVING after {timeout_s}s")
                time.sleep(0.05)


class Executor(Service):
    def __init__(
        self, stack: Stack, name: str, jobs_topic: str, group: str, database_url: str, **fields: object
    ) -> None:
        env = service_env(
            stack,
            jobs_topic=jobs_topic,
            consumer_group=group,
            database_url=database_url,
            executor_metrics_port=free_port(),
            **fields,
        )
        super().__init__(stack, name, "executor_service", env)

    def wait_assigned(self, timeout_s: float = 60.0) -> float:
        """Wait for the first partition assignment (the group join); return when it was seen."""
        return self.wait_for_log("partitions assigned", timeout_s)
