"""Runs the Node side of scenario 7 (``bench/bullmq/bench.mjs``: BullMQ 5 queue and worker) as child
processes: installs the pinned packages on first use, starts a mode, releases it, reads its result.

Protocol of ``bench.mjs``: one JSON line ``{"ready": true}`` once connected, then it waits for a line
on stdin; after it the result as one JSON line. The worker runs until a second line.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from sqlalchemy import make_url

from bench.workload import request_template

NODE_DIR = Path(__file__).resolve().parent / "bullmq"
MIN_NODE_MAJOR = 20


def node_missing() -> str | None:
    """None when node (>= 20) and npm are on PATH, else why the scenario cannot run."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return f"{'node' if node is None else 'npm'} not found on PATH"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
    major = int(version.strip().lstrip("v").split(".")[0] or 0)
    return None if major >= MIN_NODE_MAJOR else f"node {version.strip()} is older than {MIN_NODE_MAJOR}"


def installed() -> bool:
    """node_modules holds the versions pinned in package.json."""
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        manifest = NODE_DIR / "node_modules" / name / "package.json"
        if not manifest.exists() or json.loads(manifest.read_text()).get("version") != version:
            return False
    return True


def ensure_installed(timeout_s: float) -> float:
    """``npm ci`` from the committed package-lock.json when needed; returns the seconds it took."""
    if installed():
        return 0.0
    started = time.monotonic()
    # --ignore-scripts: nothing of the registry runs at install (msgpackr-extract ships prebuilt binaries)
    argv = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    proc = subprocess.run(argv, cwd=NODE_DIR, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not installed():
        raise RuntimeError(f"npm ci failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.monotonic() - started


def job_template() -> dict[str, Any]:
    """The bench's request (bench/workload.py) as the JSON a Node application would enqueue."""
    return MessageToDict(request_template("template"), preserving_proto_field_name=True)


def node_postgres_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` -> ``postgresql://...`` (node-postgres' connection string)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class NodeScript:
    """One ``node bench.mjs <config>`` process; stderr goes to ``log_path``."""

    def __init__(self, config: dict[str, Any], log_path: Path, ready_timeout_s: float = 60.0) -> None:
        self.log_path = log_path
        self._lines: queue.Queue[str | None] = queue.Queue()
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", "bench.mjs", json.dumps(config)],
                cwd=NODE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self._next(ready_timeout_s)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise RuntimeError(f"node {self.proc.args[2][:80]}: no answer after {timeout_s}s") from None
        if line is None:
            self.proc.wait(timeout=10)
            log = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"node exited with {self.proc.returncode}: {log}")
        return json.loads(line)

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            log = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"node exited with {self.proc.returncode}: {log}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def go(self) -> float:
        """Release the script; return when (monotonic)."""
        self.send("go")
        return time.monotonic()

    def result(self, timeout_s: float) -> dict[str, Any]:
        out = self._next(timeout_s)
        self.proc.wait(timeout=30)
        return out

    def stop(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """The worker: stop taking jobs, close, return its counts."""
        self.send("stop")
        return self.result(timeout_s)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def __enter__(self) -> NodeScript:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_to_end(config: dict[str, Any], log_path: Path, timeout_s: float) -> dict[str, Any]:
    """Start a mode, release it at once, return its result."""
    with NodeScript(config, log_path) as script:
        script.go()
        return script.result(timeout_s)
