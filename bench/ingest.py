"""Ingestion benchmark: the MCP transport alone against closeboard's whole ingestion path.

    uv run python bench/ingest.py [--scale 100] [--keep DIR]

Generates the demo company at the given scale (scale 100 has over a million journal lines),
then, against the same bundled ERP server over stdio:
  (a) a bare client loop pulls every page of list_journal_lines and discards it;
  (b) closeboard pulls the same pages through its client and adapter, stages them as Parquet
      and publishes them into a DuckDB file (typed, checked, quarantine-ready).
Prints rows/s of both, their ratio and peak memory. Targets (DESIGN): ratio >= 0.9, 1M lines in
<= 15 s, peak memory <= 1 GB. Figures only: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from connectors.adapters import Stream
from connectors.adapters.builtin import ErpAdapter
from connectors.client import CallLog, SourceSession
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.demo import generate
from connectors.pull import pull_source
from connectors.records import KEYS
from warehouse.db import connect, ensure_schema
from warehouse.publish import StagedTable, publish
from warehouse.staging import Stager

LIMIT = 5000


class JournalOnly(ErpAdapter):
    def streams(self) -> list[Stream]:
        return [Stream("erp_journal_lines", "list_journal_lines")]


def server_args(data: Path) -> list[str]:
    return ["-m", "connectors.servers.erp", "--data", str(data)]


async def bare_loop(data: Path) -> int:
    rows, cursor = 0, None
    params = StdioServerParameters(command=sys.executable, args=server_args(data))
    async with Client(params, read_timeout_seconds=120) as client:
        while True:
            args = {"limit": LIMIT, **({"cursor": cursor} if cursor else {})}
            result = await client.call_tool("list_journal_lines", args)
            page = json.loads(result.content[0].text)
            rows += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                return rows


def closeboard_ingest(data: Path, work: Path) -> int:
    config = ConnectorConfig(
        "erp", "builtin.erp", ServerConfig(command="python", args=tuple(server_args(data))),
        ("list_journal_lines",), ClientSettings(page_limit=LIMIT),
    )
    stager = Stager(work / "staging")

    async def pull():
        async with SourceSession(config, log=CallLog()) as session:
            return await pull_source(session, JournalOnly(), stager.write)

    started = time.perf_counter()
    pulled = anyio.run(pull)
    staged = stager.close()
    print(f"    pull + stage {time.perf_counter() - started:6.2f} s")
    started = time.perf_counter()
    con = connect(work / "bench.duckdb")
    ensure_schema(con)
    t = pulled.tables["erp_journal_lines"]
    result = publish(con, [StagedTable(t.table, staged[t.table], "erp", t.tool, KEYS[t.table], t.reported_total)],
                     run_id="bench")
    con.close()
    print(f"    publish      {time.perf_counter() - started:6.2f} s")
    return result["erp_journal_lines"].loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--keep", type=Path, help="keep the generated data and warehouse here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="closeboard-bench-"))
    data = work / "demo"
    try:
        started = time.perf_counter()
        summary = generate(data, as_of=date(2026, 11, 24), scale=args.scale)
        print(f"generated scale {args.scale} in {time.perf_counter() - started:.1f} s: {summary}")

        started = time.perf_counter()
        bare_rows = anyio.run(bare_loop, data)
        bare_s = time.perf_counter() - started

        started = time.perf_counter()
        ingested = closeboard_ingest(data, work)
        ingest_s = time.perf_counter() - started

        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"(a) bare MCP client loop : {bare_rows:>10,} rows in {bare_s:6.2f} s = {bare_rows / bare_s:>9,.0f} rows/s")
        print(f"(b) closeboard ingestion : {ingested:>10,} rows in {ingest_s:6.2f} s = {ingested / ingest_s:>9,.0f} rows/s")
        print(f"ratio (b)/(a)            : {(ingested / ingest_s) / (bare_rows / bare_s):.2f}   (target >= 0.90)")
        print(f"peak memory              : closeboard {own:,.0f} MiB, largest server process {children:,.0f} MiB (target <= 1024)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
