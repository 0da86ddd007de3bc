"""What /proc says about a process: peak resident memory (VmHWM) and CPU time, children included."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *children(kid)]
    return found


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of ``pid`` plus that of its descendants, in MiB."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            total += _status_kib(p, "VmHWM")
        except OSError:
            continue
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15 of stat)


def machine() -> dict[str, object]:
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    busy0, t0 = machine_busy_seconds(), time.monotonic()
    time.sleep(1.0)
    busy = (machine_busy_seconds() - busy0) / (time.monotonic() - t0)
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_total_gib": round(mem_kib / 1024**2, 1),
        "load_avg_1m": os.getloadavg()[0],
        "busy_cores_before_start": round(busy, 2),  # other work on the machine skews every number
    }


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (not idle, not waiting for I/O)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / _TICKS


Pids = list[int | None] | Callable[[], list[int]]


class CpuMeter:
    """CPU use, in cores (1.0 = one core busy), of named groups of processes between ``start()`` and
    ``stop()``, plus ``machine``: every process of the machine (other users' work included).

    A group may be a callable listing its pids (e.g. a database's backends), asked again at ``stop()``:
    a process found only then counts its whole CPU time (it started during the measurement)."""

    def __init__(self, pids: dict[str, Pids]) -> None:
        self._groups = pids
        self._start: dict[int, float] = {}
        self._t0 = self._machine0 = 0.0

    def _pids(self, name: str) -> list[int]:
        group = self._groups[name]
        return [p for p in (group() if callable(group) else group) if p]

    def start(self) -> None:
        self._t0, self._machine0 = time.monotonic(), machine_busy_seconds()
        self._start = {pid: cpu_seconds(pid) for name in self._groups for pid in self._pids(name)}

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        out = {}
        for name in self._groups:
            if pids := self._pids(name):
                used = sum(max(cpu_seconds(pid) - self._start.get(pid, 0.0), 0.0) for pid in pids)
                out[name] = round(used / elapsed, 2)
        out["machine"] = round((machine_busy_seconds() - self._machine0) / elapsed, 2)
        return out
