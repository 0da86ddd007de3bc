"""Idle cost of `make run`: CPU seconds per process (Tansu, trigger, executor) over fixed windows, no traffic.

``python -m bench.idle_cost [window_s] [windows] [demo]`` starts ``python -m devtools.devstack`` (own free
ports, Redis ``BENCH_REDIS_URL`` or db 12, var dir under /tmp), waits for its banner, runs ``make demo``'s
bookings through it if ``demo`` is given (the idle cost after traffic), waits 40 s more, then prints each
process's (utime + stime) delta / window from /proc/<pid>/stat, and their sum, per window. Linux only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from devtools.devstack_proc import start_devstack
from devtools.embedded import free_port

TICK = os.sysconf("SC_CLK_TCK")
NAMES = ("tansu", "trigger_service", "executor_service")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICK


def children(parent: int) -> dict[str, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_text().replace("\0", " ")
            ppid = int(_stat(int(entry))[1])
        except OSError:
            continue
        for name in NAMES:
            if ppid == parent and name in cmd:
                found[name] = int(entry)
    return found


def _discard(stream: IO[str] | None) -> None:
    for _ in stream or ():
        pass


def main(window_s: float = 60.0, windows: int = 2, demo: bool = False) -> None:
    var_dir = tempfile.mkdtemp(prefix="idle-cost-")
    env = {
        **os.environ,
        "AUTOMATION_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        # free ports, not fixed ones: two runs at once on a shared machine would take each other's
        "AUTOMATION_GRPC_PORT": str(free_port()),
        "AUTOMATION_TRIGGER_METRICS_PORT": str(free_port()),
        "AUTOMATION_EXECUTOR_METRICS_PORT": str(free_port()),
        "AUTOMATION_VAR_DIR": var_dir,
    }
    stack, _ = start_devstack(env)
    threading.Thread(target=_discard, args=(stack.stdout,), daemon=True).start()  # a full pipe blocks it
    try:
        if demo:
            subprocess.run([sys.executable, "-m", "devtools.demo"], env=env, check=True, capture_output=True)
            print("demo bookings sent and run", flush=True)
        time.sleep(40)
        procs = children(stack.pid)
        print(procs, flush=True)
        for n in range(windows):
            before = {name: cpu_s(pid) for name, pid in procs.items()}
            time.sleep(window_s)
            use = {name: (cpu_s(pid) - before[name]) / window_s for name, pid in procs.items()}
            row = ", ".join(f"{name} {cores:.3f}" for name, cores in use.items())
            print(f"window {n + 1} ({window_s:.0f} s): {row}, sum {sum(use.values()):.3f} cores", flush=True)
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        stack.wait(30)


if __name__ == "__main__":
    main(*(float(a) for a in sys.argv[1:2]), *(int(a) for a in sys.argv[2:3]), demo="demo" in sys.argv[3:])
