"""Dashboard render benchmark: time to render the page and its size, against a page budget.

    uv run python bench/render.py [--home DIR] [--scale 1] [--repeat 5]

With --home, renders from that data home's readers' copy (warehouse.read.duckdb); otherwise runs
`closeboard demo` at the given scale into a temporary home first. Prints the render time (best
and median of --repeat renders), the page size against the 1.5 MB budget of the default demo, and
the size of the embedded data. Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from reports.render import PageContext, page_data, render_dashboard, json_for_script

BUDGET = 1_500_000
REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="an existing data home (default: a fresh demo)")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    temp = None
    home = args.home
    if home is None:
        temp = Path(tempfile.mkdtemp(prefix="closeboard-bench-render-"))
        home = temp / "home"
        print(f"running `closeboard demo --scale {args.scale}` into {home} …", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "--home",
                str(home),
                "demo",
                "--as-of",
                "2026-06-15",
                "--scale",
                str(args.scale),
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    out = Path(tempfile.mkdtemp(prefix="closeboard-page-"))
    try:
        con = duckdb.connect(str(home / "warehouse.read.duckdb"), read_only=True)
        ctx = PageContext("Bench Co", "USD", "bench", {}, home=str(home))
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = render_dashboard(con, ctx, out)
            times.append(time.perf_counter() - started)
        data_bytes = len(str(json_for_script(page_data(con, ctx))).encode())
        con.close()
        size = page.stat().st_size
        print(
            f"render time   best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
            f"({args.repeat} renders)"
        )
        print(
            f"page size     {size:,} bytes ({size / BUDGET:.0%} of the {BUDGET:,}-byte budget)"
            f"{'  OVER BUDGET' if size > BUDGET else ''}"
        )
        print(f"embedded data {data_bytes:,} bytes")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
