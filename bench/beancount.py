"""beancount benchmark: a whole pull of a bean-example ledger through the real beancount-mcp server.

    uv run --frozen python bench/beancount.py [--seed 1] [--begin 2013-01-01] [--end 2024-01-01] [--keep FILE]

Generates a ledger with beancount's own `bean-example` (the defaults give 12,889 postings), starts
beancount-mcp through uvx in its own environment (as closeboard's config does), and pulls
erp_accounts, erp_journal_lines and erp_fx_rates with the `beancount` adapter, staging nothing
(the pages are mapped to Arrow and dropped: the publish is measured by bench/ingest.py). Prints
the figures and where the time goes:
  - starting the server (uvx resolving its cached environment, Python, beancount-mcp) and its first
    query, which loads and books the ledger;
  - the queries by kind (count queries that plan the 200-row windows, window fetches, accounts,
    prices): number, time as seen by the client (transport + server), and the same BQL run
    in-process by beanquery in our venv (what BQL itself costs: the rest is beancount-mcp's
    JSON-of-str() answer and the MCP stdio transport);
    (beanquery's PEG parser alone, on the query text, is shown too: it is most of BQL's cost);
  - our own parsing (the adapter turning rows into journal lines) and Arrow mapping.
For reference, the issue measured Fava's reload of the same size of ledger at ~1.4 s on this
machine; the loader's own time (beancount.loader.load_file, the bulk of such a reload) is printed.
Figures only: nothing here asserts. The machine is shared: repeat and compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

# run as a script, this file's folder comes first on sys.path and its name would hide the beancount
# package: look past it (and make the repository importable)
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]

import anyio  # noqa: E402
from beancount import loader  # noqa: E402
from beanquery import parser as bql_parser  # noqa: E402
from beanquery.query import run_query  # noqa: E402

from connectors.adapters.base import Stream  # noqa: E402
from connectors.adapters.beancount import BeancountAdapter  # noqa: E402
from connectors.client import CallLog, SourceSession  # noqa: E402
from connectors.config import parse_config  # noqa: E402
from connectors.pull import pull_source  # noqa: E402

UVX_ARGS = ["--with", "mcp<2", "--from", "beancount-mcp", "beancount-mcp"]


class TimedAdapter(BeancountAdapter):
    """The adapter, with the time spent in its own parsing and mapping added up."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = defaultdict(float)

    def _entries(self, rows: Any) -> Any:
        started = time.perf_counter()
        try:
            return super()._entries(rows)
        finally:
            self.seconds["postings -> journal lines"] += time.perf_counter() - started

    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> Any:
        started = time.perf_counter()
        try:
            return super().decode(stream, result, limit_bytes=limit_bytes)
        finally:
            self.seconds["decoding answers (JSON)"] += time.perf_counter() - started

    def map_items(self, stream: Stream, items: Any) -> Any:  # on the staging thread
        started = time.perf_counter()
        try:
            return super().map_items(stream, items)
        finally:
            self.seconds["mapping to Arrow (staging thread)"] += time.perf_counter() - started


def kind(query: str) -> str:
    if "#accounts" in query:
        return "accounts"
    if "#prices" in query:
        return "prices"
    if "count(*)" in query:
        return "counts (planning windows)"
    return "windows (postings)"


def generate(seed: int, begin: str, end: str, path: Path) -> float:
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "bean-example"), "--seed", str(seed), "--date-begin", begin,
                    "--date-end", end, "-o", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--begin", default="2013-01-01")
    parser.add_argument("--end", default="2024-01-01")
    parser.add_argument("--keep", type=Path, help="write the ledger here (reused when it exists)")
    args = parser.parse_args()
    uvx = shutil.which("uvx")
    if uvx is None:
        sys.exit("uvx is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="closeboard-bench-beancount-"))
    try:
        ledger = args.keep or work / "example.beancount"
        if not ledger.exists():
            print(f"bean-example --seed {args.seed} {args.begin}..{args.end}: {generate(args.seed, args.begin, args.end, ledger):.1f} s")

        started = time.perf_counter()
        entries, _errors, options = loader._uncached_load_file(str(ledger), None, None, None)  # no pickle cache: a real reload
        load_s = time.perf_counter() - started
        (_, ((postings,),)) = run_query(entries, options, "SELECT count(*)")

        raw = {
            "company": {"name": "Bench", "currency": "USD", "first_period": args.begin[:7]},
            "connectors": {"erp": {
                "adapter": "beancount",
                "server": {"command": uvx, "args": [*UVX_ARGS, "--transport", "stdio", str(ledger)]},
                "allow_tools": ["beancount_query"], "client": {"call_timeout_s": 300},
                "options": {"currency": "USD", "rounding_account": "Expenses:Rounding"},
            }},
        }
        connector = parse_config(raw).connectors["erp"]
        adapter = TimedAdapter()
        log = CallLog()
        times: dict[str, float] = {}

        async def pull() -> Any:
            started = time.perf_counter()
            async with SourceSession(connector, log=log) as session:
                await session.call("beancount_query", {"query": "SELECT count(*) FROM #commodities"})
                times["server start + ledger load (first call)"] = time.perf_counter() - started
                started = time.perf_counter()
                result = await pull_source(session, adapter, lambda table, batch: None)
                times["pull"] = time.perf_counter() - started
                return result

        started = time.perf_counter()
        result = anyio.run(pull)
        total_s = time.perf_counter() - started

        calls = [r for r in log.records if r.tool == "beancount_query"][1:]  # after the warm-up call
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for record in calls:
            by_kind[kind(record.arguments)].append(record)
        bql: dict[str, float] = defaultdict(float)
        parse: dict[str, float] = defaultdict(float)
        for name, records in by_kind.items():  # the same queries, run in-process by beanquery
            for record in records:
                text = json.loads(record.arguments)["query"]
                started = time.perf_counter()
                run_query(entries, options, text)
                bql[name] += time.perf_counter() - started
                started = time.perf_counter()
                bql_parser.parse(text)
                parse[name] += time.perf_counter() - started

        lines = result.tables["erp_journal_lines"]
        print(f"\nledger: {ledger.stat().st_size / 1e6:.1f} MB, {postings:,} postings")
        print(f"  erp_accounts      {result.tables['erp_accounts'].rows:>7,} rows")
        print(f"  erp_journal_lines {lines.rows:>7,} rows (reported total {lines.reported_total:,}; "
              f"{len(lines.rejected)} set aside)")
        print(f"  left out, not money: {adapter.left_out.total():,} postings ({dict(sorted(adapter.left_out.items()))})")
        print(f"  erp_fx_rates      {result.tables['erp_fx_rates'].rows:>7,} rows")
        print(f"\nwall time, whole session: {total_s:6.2f} s")
        for name, seconds in times.items():
            print(f"  {name:<42} {seconds:6.2f} s")
        calls_s = sum(r.duration_ms for r in calls) / 1000
        print(f"\nqueries after the first: {len(calls)}, {calls_s:.2f} s as seen by the client "
              f"(BQL alone in-process: {sum(bql.values()):.2f} s)")
        for name, records in sorted(by_kind.items()):
            seconds = sum(r.duration_ms for r in records) / 1000
            rows = sum(r.items or 0 for r in records)
            print(f"  {name:<28} {len(records):>4} queries {rows:>7,} rows {seconds:6.2f} s "
                  f"(BQL alone {bql[name]:5.2f} s, of which parsing the query {parse[name]:5.2f} s; "
                  f"{1000 * seconds / len(records):4.0f} ms per query)")
        ours = sum(adapter.seconds.values())
        print(f"\nour own work: {ours:.2f} s")
        for name, seconds in adapter.seconds.items():
            print(f"  {name:<42} {seconds:6.2f} s")
        print(f"  the rest of the pull (client, awaits)      {times['pull'] - calls_s - adapter.seconds['postings -> journal lines']:6.2f} s")
        print(f"\nreference: beancount.loader.load_file of this ledger in our venv: {load_s:.2f} s; "
              "Fava's reload per the issue: ~1.4 s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
