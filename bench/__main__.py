"""``python -m bench [--scenarios 1,3] [--smoke] [--profile]``: run the benchmark scenarios, print a
table per scenario and write every number to ``bench/results/<timestamp>.json``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import procfs
from bench.report import ScenarioResult, header, render, write_json
from bench.scenarios import SCENARIOS, SIZES, run_scenario, with_needs
from bench.stack import start_stack

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated, e.g. 1,3")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that everything runs")
    parser.add_argument(
        "--client-procs", type=int, default=1, help="load-generator processes for 32 callers (default 1)"
    )
    parser.add_argument("--profile", action="store_true", help="sample services and generator with py-spy")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if unknown := [s for s in chosen if s not in SCENARIOS]:
        parser.error(f"unknown scenarios {unknown}; choose from {','.join(SCENARIOS)}")
    args.chosen = with_needs(chosen)  # e.g. 5 (peak RSS) reports what 3 and 4 measured
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work_dir = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-"))
    profile_dir = args.results_dir / f"{stamp}-profiles" if args.profile else None
    sizes = SIZES["smoke" if args.smoke else "full"]
    machine = procfs.machine()
    stack = start_stack(work_dir)
    print(header(machine, stack.notes, args.smoke), flush=True)
    results: list[ScenarioResult] = []
    started = time.monotonic()
    try:
        for key in args.chosen:
            t0 = time.monotonic()
            try:
                result = run_scenario(key, stack, sizes, results, args.client_procs, profile_dir)
            except Exception as exc:
                traceback.print_exc()
                result = ScenarioResult(key, SCENARIOS[key], status="failed", notes=[f"{exc!r}"[:2000]])
            result.notes.append(f"scenario took {time.monotonic() - t0:.1f}s")
            results.append(result)
            print("\n" + render(result), flush=True)
    finally:
        stack.close()
    out = args.results_dir / f"{stamp}.json"
    meta = {
        "started_at": stamp,
        "machine": machine,
        "smoke": args.smoke,
        "sizes": sizes,
        "stack": stack.notes,
        "logs": str(work_dir),
        "total_s": round(time.monotonic() - started, 1),
    }
    write_json(out, meta, results)
    print(
        f"\nservice logs: {work_dir}\nresults: {out}" + (f"\nprofiles: {profile_dir}" if profile_dir else "")
    )
    return 1 if any(r.status == "failed" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
