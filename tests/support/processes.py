"""Run the executor as a real OS process (``python -m executor_service``), to kill it or stop it."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from devtools.embedded import free_port
from shared.config import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
_names = itertools.count(1)


def executor_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """os.environ without AUTOMATION_* variables, plus every field of ``settings`` as AUTOMATION_<FIELD>,
    a free metrics port, listen host 127.0.0.1, then ``overrides`` (field names without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    dumped = settings.model_dump(mode="json")  # SecretStr fields come out masked: read them below
    values = {**dumped, "executor_metrics_port": free_port(), "listen_host": "127.0.0.1", **overrides}
    for name, value in values.items():
        raw = overrides[name] if name in overrides else getattr(settings, name)
        if isinstance(raw, SecretStr):
            value = raw.get_secret_value()
        if value is not None:
            env[f"AUTOMATION_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class ExecutorProcess:
    """One executor process; output (JSON log lines) goes to ``<log_dir>/<name>.log``."""

    def __init__(self, settings: Settings, log_dir: Path | None = None, **overrides: Any) -> None:
        self.name = f"executor-{next(_names)}"
        self.env = executor_env(settings, **overrides)
        self.port = int(self.env["AUTOMATION_EXECUTOR_METRICS_PORT"])
        log_dir = Path(log_dir or tempfile.mkdtemp(prefix="executor-"))
        self.log_path = log_dir / f"{self.name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "executor_service"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 4000) -> str:
        return f"--- tail of {self.log_path} ---\n{self.log_text()[-chars:]}"

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.metrics_url}/readyz", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until /readyz answers 200 and the log says "partitions assigned" (AssertionError otherwise)."""
        deadline = time.monotonic() + timeout_s
        while not (self._ready() and "partitions assigned" in self.log_text()):
            if self.returncode is not None:
                raise AssertionError(f"{self.name} exited with {self.returncode}\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready after {timeout_s}s\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_exit(self, timeout_s: float) -> int:
        """The exit code (AssertionError if still running after ``timeout_s``)."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout_s}s\n{self.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL (kill -9) and reap."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout_s: float = 60.0) -> float:
        """SIGTERM; return the seconds until the process exited."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.wait_exit(timeout_s)
        return time.monotonic() - started

    def stop(self) -> None:
        """Kill if still alive (for teardown)."""
        if self.returncode is None:
            self.kill()

    def __enter__(self) -> ExecutorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
