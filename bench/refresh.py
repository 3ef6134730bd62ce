"""Refresh benchmark: a whole `refresh` at scale, cold and incremental, with time per step and peak memory.

    uv run --frozen python bench/refresh.py [--scale 100] [--repeat 1] [--keep DIR] [--as-of 2026-11-24]
                                            [--one-process]

Generates the demo company at the given scale (default 100: 1.14M journal lines; `--scale 1` for a
quick run) into a fresh data home with the demo's closeboard.yaml, then times, each as the refresh job
run by `closeboard refresh` (the bundled servers over stdio) in a fresh process of its own:
  1. cold: the first refresh of the home;
  2. unchanged: a refresh with nothing changed at the sources;
  3. new entry: a refresh after one new journal entry dated today (the open month), an expense
     accrued (no bank, AR or AP line: the reconciliation's R2-R4 read nothing it changed); the demo's
     closeboard.yaml allow-lists get_journal_days, so from the second refresh after the cold (whole)
     pull on, only that day's lines are pulled again (the backdated entry's too);
  4. new cash: the same, paid from the operating bank account (R2 reconciles the open month again);
  5. backdated: a refresh after one accrual dated in a closed month (three months back, signed off
     with the close job, as `closeboard close` runs it, before it, not timed), which restates it.
Then, with nothing changed again:
  6. command: `closeboard refresh` as a user runs it, a process timed from its start to its exit
     (Python's start, the imports, the servers, the run, the summary printed, the exit), which the
     job's time above leaves out;
  7. reload: the same command handed to a process started ahead, its imports done and its stdio
     servers started (`python -m pipelines.warm`, what `closeboard serve` keeps for the page's reload
     button), timed from the handing to its exit.
For each of 1-5: the wall time of the job, its steps' times (the Dagster run's step stats, slowest first)
with closeboard's largest RSS sampled (every 0.1 s) while each step ran, and peak RSS read in each
process (/proc/<pid>/status VmHWM): closeboard's process and each MCP server it started. With --repeat N, steps 2-5 are repeated N times (each time with other new entries)
and medians printed too. Targets (issue 21): unchanged and new entry <= 5 s, cold <= 30 s, 1 GiB.

--one-process runs every scenario (and the sign-off) one after another in a single benchmark process
instead of one each (what the test suite does, at scale 1): each scenario's time, steps and servers
are measured the same way (every refresh starts its own stdio servers), and closeboard's peak RSS is
reset before each (/proc/self/clear_refs), so it is that scenario's. What differs from fresh
processes: what a process pays once (importing Dagster's run machinery, great-expectations, warm
caches) is paid by the first scenario only, so the later ones are faster than a `closeboard refresh`
would be; the allocator keeps what earlier scenarios freed, so a scenario's peak RSS starts from a
larger base; and the "largest waited child" is the largest of all scenarios so far, the sign-off's
included (Chromium printing the closed version's PDF).
Figures only: nothing here asserts. The machine is shared: repeat and compare. `bench/recon.py HOME`
replays the reconciliation step alone on a copy of a home's warehouse (its time, peak RSS, heaviest files).
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
from proc_stats import ChildPeaks, peak_rss_mib, reset_peak_rss, waited_children_peak_mib

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


ACCRUED, OPERATING_CASH = "2200", "1110"  # the demo's accrued liabilities and its operating bank account's


def add_entry(home: Path, entry_id: str, day: date, credit: str = ACCRUED) -> None:
    """One balanced journal entry appended to the demo ERP's ledger file: an expense accrued (nothing
    R2-R4 read), or with `credit=OPERATING_CASH` paid from the bank (R2 reads it: a book line the bank
    has not seen yet)."""
    with (home / "demo" / "erp" / "journal_lines.csv").open("a", encoding="utf-8") as f:
        f.write(f"{entry_id},1,{day.isoformat()},6100,250.00,0.00,USD,,bench entry,,,\n")
        f.write(f"{entry_id},2,{day.isoformat()},{credit},0.00,250.00,USD,,bench entry,,,\n")


ANSWER = "@bench "  # the start of the benchmark process's answer lines (anything else it prints is not one)


def measure(home: Path) -> dict:
    """One refresh in this process, as `closeboard refresh` runs it: its time, steps and peaks."""
    from connectors.config import load_config
    from connectors.prestart import run_with_servers
    from connectors.records import SOURCES
    from pipelines.instance import instance
    from pipelines.runner import execute
    from warehouse.home import Home

    reset_peak_rss()  # this refresh's peak, not an earlier scenario's (in a fresh process: the imports')
    with ChildPeaks() as sampler:
        started = time.perf_counter()
        # as the CLI: the run's stdio servers started together before the run is launched
        with run_with_servers(load_config(home / "closeboard.yaml"), home, SOURCES) as run_id:
            outcome = execute("refresh", Home(home), config=home / "closeboard.yaml", run_id=run_id)
        seconds = time.perf_counter() - started
    with instance(Home(home)) as dagster_instance:
        stats = dagster_instance.get_run_step_stats(outcome.run_id)
    # per step: its time and this process's largest RSS sampled while it ran (steps run one at a time)
    steps = {
        s.step_key: ((s.end_time or 0) - s.start_time, sampler.own_peak_between(s.start_time, s.end_time or 0))
        for s in stats
        if s.start_time
    }
    return {
        "success": outcome.success,
        "errors": outcome.errors,
        "seconds": seconds,
        "steps": steps,
        "rss_mib": peak_rss_mib(),
        "servers_mib": sampler.peaks,
        "waited_children_mib": waited_children_peak_mib(),
    }


def sign_off(home: Path, period: str) -> dict:
    """`closeboard close PERIOD --by bench --override ...` in this process (the CLI's own runner)."""
    from pipelines.close import close_run_config
    from pipelines.runner import execute
    from warehouse.home import Home

    run_config = close_run_config(period, "bench", "benchmark sign-off")
    outcome = execute("close_period", Home(home), run_config=run_config, config=home / "closeboard.yaml")
    return {"success": outcome.success, "errors": outcome.errors}


def child(home: Path) -> None:
    """The benchmark process: runs each command read from stdin (`refresh`, `close PERIOD`) in turn,
    as the CLI runs it, and prints one answer line (ANSWER + JSON) for each."""
    os.environ["CLOSEBOARD_HOME"] = str(home)
    os.environ["CLOSEBOARD_CONFIG"] = str(home / "closeboard.yaml")
    for line in sys.stdin:
        command, *args = line.split()
        result = measure(home) if command == "refresh" else sign_off(home, *args)
        print(ANSWER + json.dumps(result), flush=True)


class Process:
    """A benchmark process of its own (`--child HOME`), asked one command at a time."""

    def __init__(self, home: Path) -> None:
        self.stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # read back when it fails
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            cwd=REPO,
        )

    def ask(self, *command: str) -> dict:
        """Run `command` in the process; its answer, or SystemExit with the process's error output."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(" ".join(command) + "\n")
        self.proc.stdin.flush()
        for line in self.proc.stdout:
            if line.startswith(ANSWER):
                result = json.loads(line[len(ANSWER) :])
                break
        else:
            self.stderr.seek(0)
            raise SystemExit(f"the benchmark process failed ({self.proc.wait()}):\n{self.stderr.read()[-4000:]}")
        if not result["success"]:
            raise SystemExit(f"{' '.join(command)} failed: {result['errors']}")
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # the end of its commands: it exits
        self.proc.wait(timeout=600)
        self.stderr.close()


class Runner:
    """Asks each command of a fresh process of its own, or, `one_process`, all of the same process."""

    def __init__(self, home: Path, one_process: bool) -> None:
        self.home = home
        self.shared = Process(home) if one_process else None

    def ask(self, *command: str) -> dict:
        if self.shared is not None:
            return self.shared.ask(*command)
        fresh = Process(self.home)
        try:
            return fresh.ask(*command)
        finally:
            fresh.close()

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()


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


def report_command(home: Path) -> None:
    """`closeboard refresh` on `home` as a process of its own, from its start to its exit."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), "refresh"],
        cwd=REPO,
        env={**os.environ, "CLOSEBOARD_HOME": str(home), "CLOSEBOARD_CONFIG": str(home / "closeboard.yaml")},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"closeboard refresh failed ({done.returncode}):\n{done.stderr[-4000:]}")
    print(
        f"{'command':<12} {time.perf_counter() - started:7.2f} s   `closeboard refresh`, nothing changed, "
        "from the process's start to its exit"
    )


def _cpu_ticks(pid: int) -> int:
    """The CPU ticks (user + system) of process `pid` and its children (its servers), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()
        ]
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12]) + sum(_cpu_ticks(child) for child in children)


def report_ready(home: Path) -> None:
    """`closeboard refresh` on `home` handed to a process started ahead (`python -m pipelines.warm`, as
    `closeboard serve` keeps it: its stdio servers started too), once that process has done its imports
    and its servers have read their files (their CPU time still for half a second: they wait on their
    input), timed from the handing to its exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.warm", "--home", str(home)],
        cwd=REPO,
        env={**os.environ, "CLOSEBOARD_HOME": str(home), "CLOSEBOARD_CONFIG": str(home / "closeboard.yaml")},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started, ticks = time.perf_counter(), -1
    while (now := _cpu_ticks(proc.pid)) != ticks and proc.poll() is None:
        ticks = now
        time.sleep(0.5)
    ready = time.perf_counter() - started
    handed = time.perf_counter()
    out, err = proc.communicate(json.dumps(["--home", str(home), "refresh"]) + "\n")
    if proc.returncode != 0:
        raise SystemExit(f"closeboard refresh (started ahead) failed ({proc.returncode}):\n{err[-4000:]}")
    print(
        f"{'reload':<12} {time.perf_counter() - handed:7.2f} s   the same, handed to a process started "
        f"ahead (ready after {ready:.1f} s), to its exit"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1, help="repeat the incremental refreshes; print medians")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 24))
    parser.add_argument("--keep", type=Path, help="build the data home here and keep it (default: a temporary one)")
    parser.add_argument(
        "--one-process", action="store_true", help="every scenario in one process (see above: what differs)"
    )
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
    runner: Runner | None = None
    try:
        prepare(home, args.scale, args.as_of)
        runner = Runner(home, args.one_process)
        report("cold", runner.ask("refresh"))
        period = shift(period_of(args.as_of), -3)
        closed = month_start(period)
        runner.ask("close", period)
        print(f"(signed off {period}, not timed)")
        timings: dict[str, list[float]] = {"unchanged": [], "new entry": [], "new cash": [], "backdated": []}
        for rep in range(args.repeat):
            result = runner.ask("refresh")
            report("unchanged", result)
            timings["unchanged"].append(result["seconds"])
            for name, entry, day, credit in (
                ("new entry", "NEW", args.as_of, ACCRUED),
                ("new cash", "CASH", args.as_of, OPERATING_CASH),
                ("backdated", "OLD", closed.replace(day=20), ACCRUED),
            ):
                add_entry(home, f"JE-BENCH-{entry}-{rep + 1}", day, credit)
                result = runner.ask("refresh")
                report(name, result)
                timings[name].append(result["seconds"])
        report_command(home)
        report_ready(home)
        if args.repeat > 1:
            print("medians: " + ", ".join(f"{name} {statistics.median(s):.2f} s" for name, s in timings.items()))
    finally:
        if runner is not None:
            runner.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
