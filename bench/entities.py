"""Many companies (issue 22): refresh N demo entities with 1 and with 2 concurrent runs, and print both wall times.

    uv run --frozen python bench/entities.py [--entities 10] [--scale 1] [--concurrency 1 2] [--keep DIR]
                                             [--sources erp]

Generates a group of demo entities once (`closeboard demo --entities`' companies: each its own name,
currency and seed) into a template home, then for each concurrency K refreshes every entity of a fresh
copy of it, cold, each as `closeboard --entity ID refresh` (the bundled servers over stdio) in a process
of its own, at most K at a time: what the Dagster queue does with `closeboard/warehouse: <entity>`
limited per entity (one process per run). Prints per K the wall time, the median and slowest refresh,
and the speed-up over the first K; then per entity its journal lines and the size of its warehouse file
and read copy. (Runs through the CLI record into each entity's own Dagster instance; the daemon's queue
is exercised by tests/test_deploy_entities.py.) Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipelines.entities import demo_entities, write_demo_entity, write_group_config  # noqa: E402
from warehouse.home import Home  # noqa: E402

REFRESH_TIMEOUT_S = 3600


def prepare(template: Path, count: int, scale: int, as_of: date, sources: list[str] | None) -> list[str]:
    import yaml

    started = time.perf_counter()
    entities = demo_entities(count)
    for entity in entities:
        config = write_demo_entity(Home(template), entity, as_of=as_of, scale=scale)
        if sources:  # only these connectors (the ERP alone: one MCP server per refresh)
            raw = yaml.safe_load(config.read_text(encoding="utf-8"))
            raw["connectors"] = {name: c for name, c in raw["connectors"].items() if name in sources}
            config.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    write_group_config(Home(template), [e.id for e in entities])
    print(
        f"generated {count} entities at scale {scale} in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{e.id} ({e.currency})" for e in entities)
    )
    return [e.id for e in entities]


def refresh(home: Path, entity: str) -> float:
    """`closeboard --home HOME --entity ENTITY refresh` in a process of its own; its wall time."""
    env = {**os.environ, "CLOSEBOARD_HOME": str(home)}
    env.pop("CLOSEBOARD_CONFIG", None)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--home", str(home), "--entity", entity, "refresh"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=REFRESH_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(
            f"refresh of {entity} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return time.perf_counter() - started


def run(template: Path, work: Path, ids: list[str], concurrency: int) -> tuple[float, list[float]]:
    """Every entity of a fresh copy of `template` refreshed cold, `concurrency` at a time."""
    home = work / f"concurrency-{concurrency}"
    shutil.copytree(template, home)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        times = list(pool.map(lambda e: refresh(home, e), ids))
    return time.perf_counter() - started, times


def sizes(home: Path, ids: list[str]) -> None:
    import duckdb

    print("per entity (the last run's home):")
    for entity in ids:
        entity_home = Home(home).entity(entity)
        con = duckdb.connect(str(entity_home.read_copy), read_only=True)
        try:
            lines = con.execute("select count(*) from erp_journal_lines").fetchone()[0]
        finally:
            con.close()
        print(
            f"  {entity:<14} {lines:>10,} journal lines  warehouse {entity_home.warehouse.stat().st_size / 2**20:8.1f} MiB"
            f"  read copy {entity_home.read_copy.stat().st_size / 2**20:8.1f} MiB"
        )
    page = home / "reports" / "portfolio.html"
    print(f"portfolio page: {page} ({page.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 24))
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep it")
    parser.add_argument("--sources", nargs="+", default=None, help="only these connectors (default: the demo's)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="closeboard-bench-entities-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        ids = prepare(work / "template", args.entities, args.scale, args.as_of, args.sources)
        print(f"{os.cpu_count()} CPU cores; each refresh: cold, `closeboard --entity ID refresh` in its own process")
        first = None
        for k in args.concurrency:
            wall, times = run(work / "template", work, ids, k)
            first = first or wall
            print(
                f"{k} concurrent run{'s' if k > 1 else ' '}: wall {wall:7.1f} s for {len(ids)} entities; "
                f"refresh median {statistics.median(times):.1f} s, slowest {max(times):.1f} s; "
                f"speed-up {first / wall:.2f}x"
            )
        sizes(work / f"concurrency-{args.concurrency[-1]}", ids)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
