"""Optional sampling profiles of service processes with py-spy (``--profile``).

py-spy writes collapsed stacks (``--format raw``: one ``frame;frame;... count`` line per stack);
``summarize()`` turns them into the top functions by own time (leaf frames) and by total time.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

TOP = 8
RATE = 100  # samples/s
# Frames every sample runs under (interpreter, thread, process, event loop plumbing): left out of the
# inclusive list, which would otherwise start with them at ~100 %
_WRAPPERS = frozenset(
    {
        "<module>",
        "_run_module_as_main",
        "_run_code",
        "main",
        "Thread._bootstrap",
        "Thread._bootstrap_inner",
        "Thread.run",
        "_worker",
        "_WorkItem.run",
        "spawn_main",
        "_main",
        "BaseProcess._bootstrap",
        "BaseProcess.run",
        "_client_main",
        "run",
        "Runner.run",
        "BaseEventLoop.run_forever",
        "BaseEventLoop.run_until_complete",
        "BaseEventLoop._run_once",
        "Handle._run",
    }
)


def py_spy_binary() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class PySpy:
    """``py-spy record`` attached to ``pid`` until ``stop()``."""

    def __init__(self, pid: int, out_path: Path) -> None:
        binary = py_spy_binary()
        if binary is None:
            raise RuntimeError("py-spy not found: .venv/bin/pip install py-spy")
        self.out_path = out_path
        out_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = out_path.with_suffix(".log")
        argv = [binary, "record", "--pid", str(pid), "--format", "raw", "-o", str(out_path)]
        # --gil: only the thread holding the GIL (where Python time goes); --nonblocking: never pause
        # the process (pausing a 30-thread gRPC server 100 times a second cuts its throughput by half)
        argv += ["--rate", str(RATE), "--gil", "--nonblocking"]
        self._started = time.monotonic()
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> list[str]:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if not self.out_path.exists():
            return [f"py-spy wrote nothing; see {self._log}"]
        return summarize(self.out_path, time.monotonic() - self._started)


def _function(frame: str) -> str:
    """``send (grpc/_channel.py:123)`` -> ``send (grpc/_channel.py)``: one entry per function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(path).parts[-2:]) if path else ""
    return f"{name} ({short})" if short else name


def summarize(path: Path, seconds: float, top: int = TOP) -> list[str]:
    """Lines: the sample count, then the ``top`` functions by own and by inclusive samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for fn in set(frames):
            total[fn] += count
    if not samples:
        return ["no samples"]
    lines = [f"{samples} samples of the GIL holder in {seconds:.1f}s; top own time:"]
    lines += [f"  {100 * n / samples:5.1f}%  {fn}" for fn, n in own.most_common(top)]
    lines.append("top inclusive time:")
    inclusive = [(fn, n) for fn, n in total.most_common() if fn.split(" (")[0] not in _WRAPPERS]
    lines += [f"  {100 * n / samples:5.1f}%  {fn}" for fn, n in inclusive[:top]]
    return lines
