"""Scenario results: the printed tables and the JSON file."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ScenarioResult:
    key: str  # "1".."8"
    title: str
    status: str = "ok"  # ok | skipped | unimplemented | failed
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: dict[str, list[str]] = field(default_factory=dict)  # process label -> summary lines
    memory: list[dict[str, Any]] = field(default_factory=list)  # peak RSS of the service processes
    timeline: list[dict[str, Any]] = field(default_factory=list)  # per-second numbers, JSON only
    details: dict[str, Any] = field(default_factory=dict)  # raw numbers (read by scenario 7), JSON only


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, dict):
        return " ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)


def table(rows: list[dict[str, Any]]) -> list[str]:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(r[i][:1].isdigit() or r[i] == "-" for r in cells) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        )

    return [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]


def render(result: ScenarioResult, show_profiles: bool = True) -> str:
    lines = [f"== {result.key}. {result.title} [{result.status}]"]
    if result.rows:
        lines += table(result.rows)
    lines += [f"   {note}" for note in result.notes]
    if show_profiles:
        for label, summary in result.profiles.items():
            lines.append(f"   profile {label}:")
            lines += [f"     {s}" for s in summary]
    return "\n".join(lines)


def header(machine: dict[str, Any], stack_notes: list[str], smoke: bool) -> str:
    lines = [
        f"machine: {machine['cpu_count']} cores ({machine['cpu_model']}), {machine['mem_total_gib']} GiB RAM"
        + ("   [SMOKE sizes: numbers are not meaningful]" if smoke else ""),
        f"  before start: {machine['busy_cores_before_start']} cores busy (1 s sample), "
        f"load average {machine['load_avg_1m']:.2f}; cpu_cores 'machine' columns below count every process",
    ]
    return "\n".join(lines + [f"  {note}" for note in stack_notes])


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, meta: dict[str, Any], results: list[ScenarioResult]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**meta, "scenarios": {r.key: asdict(r) for r in results}}
    path.write_text(json.dumps(_clean(document), indent=2, default=str) + "\n")
