"""Refresh benchmark: a whole `refresh` at scale, cold and incremental, with time per step and peak memory.

    uv run --frozen python bench/refresh.py [--scale 100] [--repeat 1] [--keep DIR] [--as-of 2026-11-24]

Generates the demo company at the given scale (default 100: 1.14M journal lines; `--scale 1` for a
quick run) into a fresh data home with the demo's closeboard.yaml, then times, each as the refresh job
run by `closeboard refresh` (the bundled servers over stdio) in a fresh process of its own:
  1. cold: the first refresh of the home;
  2. unchanged: a refresh with nothing changed at the sources;
  3. new entry: a refresh after one new journal entry dated today (the open month);
  4. backdated: a refresh after one entry dated in a closed month (three months back, signed off
     with `closeboard close` before it, not timed), which restates it.
For each: the wall time of the job, its steps' times (the Dagster run's step stats, slowest first)
with closeboard's largest RSS sampled (every 0.1 s) while each step ran, and peak RSS read in each
process (/proc/<pid>/status VmHWM): closeboard's process and each MCP server it started. With --repeat N, steps 2-4 are repeated N times (each time with another new entry)
and medians printed too. Targets (issue 21): unchanged and new entry <= 5 s, cold <= 30 s, 1 GiB.
Figures only: nothing here asserts. The machine is shared: repeat and compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml
from proc_stats import ChildPeaks, peak_rss_mib, waited_children_peak_mib

from connectors.periods import month_start, period_of, shift

REPO = Path(__file__).resolve().parent.parent
SHOWN_STEPS = 8  # slowest steps printed per refresh


def prepare(home: Path, scale: int, as_of: date) -> None:
    """The demo company at `scale` under `home`/demo and the closeboard.yaml `closeboard demo` writes."""
    from connectors.demo import generate

    started = time.perf_counter()
    summary = generate(home / "demo", as_of=as_of, scale=scale)
    raw = yaml.safe_load((REPO / "closeboard.yaml").read_text(encoding="utf-8"))
    raw["company"].update(first_period=summary["first_period"], as_of=summary["as_of"])
    (home / "closeboard.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    counts = summary["counts"]
    print(
        f"generated scale {scale} in {time.perf_counter() - started:.1f} s: "
        f"{counts['erp/journal_lines.csv']:,} journal lines, {counts['erp/invoices.csv']:,} invoices, "
        f"{counts['erp/bills.csv']:,} bills, {counts['erp/payments.csv']:,} payments, "
        f"{counts['bank/transactions.csv']:,} bank lines"
    )


def add_entry(home: Path, entry_id: str, day: date) -> None:
    """One balanced journal entry (an expense accrued to AP) appended to the demo ERP's ledger file."""
    with (home / "demo" / "erp" / "journal_lines.csv").open("a", encoding="utf-8") as f:
        f.write(f"{entry_id},1,{day.isoformat()},6100,250.00,0.00,USD,,bench entry,,,\n")
        f.write(f"{entry_id},2,{day.isoformat()},2200,0.00,250.00,USD,,bench entry,,,\n")


def child(home: Path) -> None:
    """One refresh in this (fresh) process, as `closeboard refresh` runs it; prints one JSON line."""
    os.environ["CLOSEBOARD_HOME"] = str(home)
    os.environ["CLOSEBOARD_CONFIG"] = str(home / "closeboard.yaml")
    from pipelines.instance import instance
    from pipelines.runner import execute
    from warehouse.home import Home

    with ChildPeaks() as sampler:
        started = time.perf_counter()
        outcome = execute("refresh", Home(home), config=home / "closeboard.yaml")
        seconds = time.perf_counter() - started
    with instance(Home(home)) as dagster_instance:
        stats = dagster_instance.get_run_step_stats(outcome.run_id)
    # per step: its time and this process's largest RSS sampled while it ran (steps run one at a time)
    steps = {
        s.step_key: ((s.end_time or 0) - s.start_time, sampler.own_peak_between(s.start_time, s.end_time or 0))
        for s in stats
        if s.start_time
    }
    print(
        json.dumps(
            {
                "success": outcome.success,
                "errors": outcome.errors,
                "seconds": seconds,
                "steps": steps,
                "rss_mib": peak_rss_mib(),
                "servers_mib": sampler.peaks,
                "waited_children_mib": waited_children_peak_mib(),
            }
        )
    )


def refresh(home: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", str(home)], capture_output=True, text=True, check=False, cwd=REPO
    )
    if proc.returncode != 0:
        raise SystemExit(f"the refresh process failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result["success"]:
        raise SystemExit(f"the refresh failed: {result['errors']}")
    return result


def report(name: str, result: dict) -> None:
    servers = ", ".join(f"{label} {mib:,.0f}" for label, mib in sorted(result["servers_mib"].items()))
    print(
        f"{name:<12} {result['seconds']:7.2f} s   peak RSS closeboard {result['rss_mib']:,.0f} MiB; "
        f"servers {servers or 'n/a'} MiB (largest waited child {result['waited_children_mib']:,.0f} MiB)"
    )
    slowest = sorted(result["steps"].items(), key=lambda kv: -kv[1][0])
    shown = ", ".join(
        f"{step} {s:.2f}" + (f" ({mib:,.0f} MiB)" if mib else "") for step, (s, mib) in slowest[:SHOWN_STEPS]
    )
    rest = sum(s for _, (s, _mib) in slowest[SHOWN_STEPS:])
    print(
        f"{'':<12} steps (s, peak RSS sampled): {shown}"
        + (f", {len(slowest) - SHOWN_STEPS} more {rest:.2f}" if rest else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="repeat the incremental refreshes; print medians")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 24))
    parser.add_argument("--keep", type=Path, help="build the data home here and keep it (default: a temporary one)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="closeboard-bench-refresh-"))
    home = root / "home" if not args.keep else root
    if args.keep and (home / "warehouse.duckdb").exists():
        raise SystemExit(f"{home} already holds a warehouse: --keep takes a new folder (the first refresh is cold)")
    home.mkdir(parents=True, exist_ok=True)
    try:
        prepare(home, args.scale, args.as_of)
        report("cold", refresh(home))
        period = shift(period_of(args.as_of), -3)
        closed = month_start(period)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "--home",
                str(home),
                "--config",
                str(home / "closeboard.yaml"),
                "close",
                period,
                "--by",
                "bench",
                "--override",
                "benchmark sign-off",
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
            timeout=3600,
        )
        print(f"(signed off {period}, not timed)")
        timings: dict[str, list[float]] = {"unchanged": [], "new entry": [], "backdated": []}
        for rep in range(args.repeat):
            result = refresh(home)
            report("unchanged", result)
            timings["unchanged"].append(result["seconds"])
            add_entry(home, f"JE-BENCH-NEW-{rep + 1}", args.as_of)
            result = refresh(home)
            report("new entry", result)
            timings["new entry"].append(result["seconds"])
            add_entry(home, f"JE-BENCH-OLD-{rep + 1}", closed.replace(day=20))
            result = refresh(home)
            report("backdated", result)
            timings["backdated"].append(result["seconds"])
        if args.repeat > 1:
            print("medians: " + ", ".join(f"{name} {statistics.median(s):.2f} s" for name, s in timings.items()))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
