"""Run the trigger as a real OS process (``python -m trigger_service``), and find this machine's
non-loopback address (to show what a loopback bind refuses)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import socket
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
LISTENING = "trigger service listening"


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback (the source address of its default
    route, else one its host name resolves to), or None when it has none."""
    candidates: list[str] = []
    for probe in ("192.0.2.1", "10.255.255.255"):  # UDP connect sends nothing; it only picks a route
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect((probe, 9))
                candidates.append(sock.getsockname()[0])
            except OSError:
                continue
    with contextlib.suppress(OSError):
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    for address in candidates:
        ip = ipaddress.ip_address(address)
        if not (ip.is_loopback or ip.is_unspecified):
            return address
    return None


def connects(host: str, port: int, timeout_s: float = 2.0) -> bool:
    """True if a TCP connection to ``host:port`` is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def trigger_env(settings: Settings, unset: tuple[str, ...] = (), **overrides: Any) -> dict[str, str]:
    """os.environ without AUTOMATION_* variables, plus every field of ``settings`` except ``unset``
    (those keep their defaults), free gRPC and metrics ports, then ``overrides`` (field names)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOMATION_")}
    values = {
        **settings.model_dump(mode="json"),
        "grpc_port": free_port(),
        "trigger_metrics_port": free_port(),
        **overrides,
    }
    for name, value in values.items():
        if name in unset:
            continue
        raw = overrides[name] if name in overrides else getattr(settings, name)
        if isinstance(raw, SecretStr):
            value = raw.get_secret_value()
        if value is not None:
            env[f"AUTOMATION_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class TriggerProcess:
    """One trigger process; its stderr (JSON log lines) goes to a file."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.grpc_port = int(env["AUTOMATION_GRPC_PORT"])
        self.metrics_port = int(env["AUTOMATION_TRIGGER_METRICS_PORT"])
        self.log_path = Path(tempfile.mkdtemp(prefix="trigger-")) / "trigger.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "trigger_service"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if line.strip()]

    def wait_listening(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while LISTENING not in self.log_text():
            if self.proc.poll() is not None:
                raise AssertionError(f"trigger exited with {self.proc.returncode}:\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"trigger not listening after {timeout_s}s:\n{self.log_text()}")
            time.sleep(0.05)

    def wait_exit(self, timeout_s: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"trigger still running after {timeout_s}s:\n{self.log_text()}") from None

    def terminate(self, timeout_s: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(timeout_s)

    def __enter__(self) -> TriggerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
