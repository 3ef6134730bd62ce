"""Reconciliation replay: `warehouse.recon.build_recon` alone on a copy of a data home's warehouse, with its
time, peak RSS and the heaviest statements (issue 21 item 3: 1 GiB at scale 100).

    uv run --frozen python bench/recon.py HOME [--incremental] [--memory-limit 1GB] [--keep DIR]

Copies HOME/warehouse.duckdb to a temporary folder (HOME is only read), opens it as the refresh does
(warehouse.db.connect: memory_limit, spilling under the copy's folder) and runs build_recon in one
transaction with the reconciliation settings and sources of HOME/closeboard.yaml (so `--incremental`
finds the fingerprints the home's last refresh stored, and recomputes only what changed since), by
default `full` (every period recomputed, what a cold refresh does). Prints the wall
time, this process's peak RSS (VmHWM) over the replay and the statements with the largest peak RSS
and time (the peak is reset before each statement, /proc/self/clear_refs). Figures only.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from proc_stats import peak_rss_mib, reset_peak_rss

from connectors.config import load_config
from pipelines.recon import params_of
from warehouse.db import DEFAULT_MEMORY_LIMIT, connect, ensure_schema, transaction
from warehouse.recon import RECON_DIR, build_recon

SHOWN = 8
FILES = {path.read_text(encoding="utf-8"): path.name for path in RECON_DIR.rglob("*.sql")}


class Timed:
    """The connection, with each `execute` timed and its peak RSS recorded (build_recon's statements)."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.statements: list[tuple[float, float, str]] = []  # (peak MiB, seconds, first line)

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Any:
        reset_peak_rss()
        started = time.perf_counter()
        result = self._con.execute(query, *args, **kwargs)
        label = FILES.get(query) or next((ln.strip() for ln in query.splitlines() if ln.strip()), "")
        self.statements.append((peak_rss_mib() or 0.0, time.perf_counter() - started, label[:90]))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("home", type=Path)
    parser.add_argument("--incremental", action="store_true", help="not `full`: R2-R4 from the changed months")
    parser.add_argument("--memory-limit", default=DEFAULT_MEMORY_LIMIT)
    parser.add_argument("--keep", type=Path, help="copy the warehouse here and keep it (default: a temporary one)")
    args = parser.parse_args()
    params = params_of(load_config(args.home / "closeboard.yaml"))
    root = args.keep or Path(tempfile.mkdtemp(prefix="closeboard-bench-recon-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        copy = root / "warehouse.duckdb"
        shutil.copyfile(args.home / "warehouse.duckdb", copy)
        con = connect(copy, memory_limit=args.memory_limit)
        ensure_schema(con)  # as the refresh's connection: a warehouse of an earlier closeboard is brought up to date
        timed = Timed(con)
        base = peak_rss_mib() or 0.0
        reset_peak_rss()
        started = time.perf_counter()
        with transaction(con):
            summary = build_recon(timed, "bench-replay", params, full=not args.incremental)  # type: ignore[arg-type]
        seconds = time.perf_counter() - started
        peak = max((mib for mib, _s, _label in timed.statements), default=0.0)
        con.close()
        print(
            f"recon replay {seconds:.2f} s, peak RSS {peak:,.0f} MiB (before it {base:,.0f} MiB); "
            f"{summary.results} results, {summary.items} items, {summary.matches} matches, "
            f"{summary.match_rounds} match rounds; R2-R4 recomputed: {summary.recomputed}"
        )
        for title, key in (("by peak RSS", 0), ("by time", 1)):
            heavy = sorted(timed.statements, key=lambda s: -s[key])[:SHOWN]
            print(f"  {title}: " + "; ".join(f"{mib:,.0f} MiB {s:.2f} s {label!r}" for mib, s, label in heavy))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
