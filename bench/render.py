"""Dashboard render benchmark: time to render the page and its size, against a page budget.

    uv run python bench/render.py [--home DIR] [--scale 1] [--repeat 5] [--parts]

With --home, renders from that data home's readers' copy (warehouse.read.duckdb); otherwise runs
`closeboard demo` at the given scale into a temporary home first. Prints the render time (best
and median of --repeat renders, wall clock and this process's CPU time: on a shared machine the
CPU time moves less with the load) with the click-to-explain data read back from the warehouse (a
refresh that changed nothing it reads) and computed (after a change), the page size against the 1.5 MB budget, and the size of the
embedded data and its largest parts. --parts adds what each part of the page costs (the open
documents computed once, each query it embeds, each table's top rows and summary, the
click-to-explain data and its steps, indented, the HTML), best of --repeat, largest first.
Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from reports import render
from reports.render import PageContext, json_for_script, page_data, render_dashboard
from reports.tables import open_documents_once, table_top
from warehouse import loads
from warehouse.models import load_functions

BUDGET = 1_500_000
REPO = Path(__file__).resolve().parent.parent


@contextmanager
def explanations_kept(kept: bool) -> Iterator[None]:
    """Renders that read back the explanations the warehouse keeps (as a refresh with nothing they read
    changed does), or, not `kept`, that compute them (as after a change: the read copy keeps nothing)."""
    stored = loads.stored_explanations
    if not kept:
        loads.stored_explanations = lambda con, digest: None
    try:
        yield
    finally:
        loads.stored_explanations = stored


def size_of(value: object) -> int:
    """Bytes `value` takes in the page (as the page embeds it)."""
    return len(str(json_for_script(value)).encode())


def largest(data: dict) -> list[tuple[str, int]]:
    """The embedded data's parts, largest first: each dataset and table summary, the meta and
    sections, and each part of the explanations (the statements' ones apart)."""
    explain = data.get("explain", {})
    statement = explain.get("statement", {}) if isinstance(explain.get("statement"), dict) else {}
    named = {
        **{f"datasets.{k}": v for k, v in data["datasets"].items()},
        **{f"tables.{k}": v for k, v in data["tables"].items()},
        "meta": data["meta"],
        "sections": data["sections"],
        **{f"explain.{k}": v for k, v in explain.items() if k != "statement"},
        **{f"explain.statement.{k}": v for k, v in statement.items()},
    }
    return sorted(((name, size_of(v)) for name, v in named.items()), key=lambda p: -p[1])


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of `repeat` calls."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


# the click-to-explain data's steps (reports/explain.py), timed inside one `_explanations` call each;
# `_figure_rows` by the mart CTE it reads
EXPLAIN_STEPS = (
    "page_explanations",
    "_figure_values",
    "_figure_rows",
    "_sources",
    "statement_account_lines",
    "income_line_accounts",
    "line_parts",
    "account_moves",
    "earnings_lines",
    "earnings_names",
)


def explanation_steps(
    con: duckdb.DuckDBPyConnection, tables: set[str], periods: list[str], spec: dict, repeat: int
) -> list[tuple[str, float, float]]:
    """What each step of the explanations costs: best of `repeat` per step (wall, CPU)."""
    from reports import explain

    best: dict[str, tuple[float, float]] = {}
    originals = {name: getattr(explain, name) for name in EXPLAIN_STEPS}

    def timing(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                label = f"  explain {name.lstrip('_')}"
                if name == "_figure_rows":
                    label += f" {args[1][0].where}"  # type: ignore[index]
                took = (time.perf_counter() - wall, time.process_time() - cpu)
                best[label] = min(best.get(label, took), took)

        return wrapper

    try:
        for name, fn in originals.items():
            setattr(explain, name, timing(name, fn))
        for _ in range(repeat):
            render._explanations(con, tables, periods, spec.get("explain", {}))
    finally:
        for name, fn in originals.items():
            setattr(explain, name, fn)
    return [(label, wall, cpu) for label, (wall, cpu) in best.items()]


def parts(con: duckdb.DuckDBPyConnection, ctx: PageContext, repeat: int) -> list[tuple[str, float, float]]:
    """What each part of page_data and the HTML cost, measured apart, in the order page_data runs them."""
    spec = render.layout(ctx.view)
    tables = render.existing_tables(con)
    load_functions(con)
    con.execute(render.query_text("_kpis_through.sql"))

    def open_documents() -> None:
        load_functions(con)  # the macro computes them (inside the block it reads the copy)
        con.execute(render.query_text("_open_documents_once.sql"))

    out = [("open_documents() once", *timed(open_documents, repeat))]
    with open_documents_once(con, tables):
        out += _section_parts(con, ctx, spec, tables, repeat)
    return out


def _section_parts(
    con: duckdb.DuckDBPyConnection, ctx: PageContext, spec: dict, tables: set[str], repeat: int
) -> list[tuple[str, float, float]]:
    out, seen = [], set()

    def query(name: str) -> None:
        if name not in seen:
            seen.add(name)
            out.append((f"query {name}", *timed(lambda: render.run_query(con, render.query_text(name)), repeat)))

    for name in (spec["kpi_query"], spec["periods_query"], spec["closed_query"]):
        query(name)
    for section in spec["sections"]:
        if not set(section.get("requires", [])) <= tables:
            continue
        if section["component"] == "table":
            out.append((f"table {section['id']}", *timed(lambda s=section: table_top(con, s, spec), repeat)))
            names = section.get("more_queries", [])
        else:
            names = [section["query"], *section.get("more_queries", [])]
        for name in names:
            query(name)
    periods = [p for (p,) in con.execute("select period from periods order by period").fetchall()]
    out.append(
        ("explanations", *timed(lambda: render._explanations(con, tables, periods, spec.get("explain", {})), repeat))
    )
    out += explanation_steps(con, tables, periods, spec, repeat)
    data = page_data(con, ctx)
    out.append(("html", *timed(lambda: render.render_html(data), repeat)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="an existing data home (default: a fresh demo)")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parts", action="store_true", help="also time each part of the page")
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
        timed = {}
        for kept in (True, False):
            times, cpus = [], []
            with explanations_kept(kept):
                for _ in range(args.repeat):
                    started, cpu = time.perf_counter(), time.process_time()
                    page = render_dashboard(con, ctx, out)
                    times.append(time.perf_counter() - started)
                    cpus.append(time.process_time() - cpu)
            timed[kept] = times, cpus
        data = page_data(con, ctx)
        data_bytes = size_of(data)
        breakdown = parts(con, ctx, args.repeat) if args.parts else []
        con.close()
        size = page.stat().st_size
        for kept, (times, cpus) in timed.items():
            print(
                f"render time   best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
                f"({args.repeat} renders); CPU best {min(cpus) * 1000:.0f} ms, median "
                f"{statistics.median(cpus) * 1000:.0f} ms; "
                + (
                    "explanations read back (nothing they read changed)"
                    if kept
                    else "explanations computed (after a change to what they read)"
                )
            )
        print(
            f"page size     {size:,} bytes ({size / BUDGET:.0%} of the {BUDGET:,}-byte budget)"
            f"{'  OVER BUDGET' if size > BUDGET else ''}"
        )
        print(f"embedded data {data_bytes:,} bytes; the largest parts:")
        for name, size in largest(data)[:10]:
            print(f"  {name:42} {size:9,} bytes")
        if breakdown:
            print(f"parts (best of {args.repeat}; measured apart, so they add up to about the render):")
            steps = [p for p in breakdown if p[0].startswith(" ")]
            for name, wall, cpu in sorted((p for p in breakdown if p not in steps), key=lambda p: -p[1]):
                print(f"  {name:40} {wall * 1000:7.0f} ms  CPU {cpu * 1000:7.0f} ms")
                if name == "explanations":
                    for step, wall, cpu in sorted(steps, key=lambda p: -p[1]):
                        print(f"  {step:40} {wall * 1000:7.0f} ms  CPU {cpu * 1000:7.0f} ms")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
