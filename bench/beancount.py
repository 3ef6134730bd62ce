"""beancount benchmark: closeboard against Fava on the same bean-example ledgers, after a one-month change.

    uv run --frozen python bench/beancount.py [--scales 1,10] [--seed 1] [--repeat 1] [--keep DIR]
    uv run --frozen python bench/beancount.py --profile [--seed 1] [--begin 2013-01-01] [--end 2024-01-01]

Compare (the default): for each scale, a ledger written by beancount's own `bean-example` (x1:
2013-2023, 12.9k postings; x10: the same generator over 110 years, ~10x the postings; kept in --keep
DIR when given), a data home whose closeboard.yaml has the ledger as its only source (beancount-mcp
through uvx, two years reported, as a finance team would), and:
  - closeboard: a cold `closeboard refresh` (not compared), then, after one transaction is appended to
    the file dated three months before its end (a backdated change: that month and the open month are
    pulled again), `closeboard refresh` in a fresh process as a user runs it (wall time), with the
    queries it sent (connector_calls) and their time;
  - Fava (fava.core.FavaLedger, the dev dependency): the ledger opened once, then, after the same
    change, its reload (`load_file()`, what Fava does when the file changes).
The ratio closeboard / Fava after each change is printed (and the median with --repeat N).
--profile: the earlier whole-pull profile (where a pull's time goes, query by query).
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
    subprocess.run(
        [
            str(Path(sys.executable).parent / "bean-example"),
            "--seed",
            str(seed),
            "--date-begin",
            begin,
            "--date-end",
            end,
            "-o",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="store_true", help="profile one whole pull instead of comparing with Fava")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--begin", default="2013-01-01")
    parser.add_argument("--end", default="2024-01-01")
    parser.add_argument("--scales", default="1,10", help="compare: ledger sizes, x1 = 11 years of bean-example")
    parser.add_argument("--repeat", type=int, default=1, help="compare: one-month changes per scale")
    parser.add_argument("--keep", type=Path, help="profile: the ledger file; compare: a folder for the ledgers")
    args = parser.parse_args()
    if not args.profile:
        compare(args)
        return
    profile(args)


def closeboard_cli() -> list[str]:
    return [str(Path(sys.executable).parent / "closeboard")]


def refresh(home: Path) -> float:
    """`closeboard refresh` on `home` in a fresh process: its wall time."""
    started = time.perf_counter()
    done = subprocess.run(
        [*closeboard_cli(), "--home", str(home), "--config", str(home / "closeboard.yaml"), "refresh"],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"closeboard refresh failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def last_run_calls(home: Path) -> tuple[int, float, int]:
    """(queries, their seconds, journal postings read) of the last refresh, from the read copy."""
    import duckdb

    with duckdb.connect(str(home / "warehouse.read.duckdb"), read_only=True) as con:
        return con.execute(
            "select count(*), coalesce(sum(duration_ms), 0) / 1000, coalesce(sum(items) filter "
            "(where arguments like '%entry_meta(''filename'')%'), 0) from connector_calls "
            "where run_id = (select run_id from connector_calls order by called_at desc limit 1)"
        ).fetchone()


def append_change(ledger: Path, day: str, n: int) -> None:
    """One transaction dated `day`, appended at the end of the file (nothing above it moves)."""
    with ledger.open("a", encoding="utf-8") as f:
        f.write(
            f'\n{day} * "Bench" "one-month change {n}"\n  Expenses:Food:Restaurant  {12 + n}.34 USD\n'
            "  Assets:US:BofA:Checking\n"
        )


def compare(args: argparse.Namespace) -> None:
    import statistics
    from datetime import date

    import yaml
    from fava.core import FavaLedger

    uvx = shutil.which("uvx")
    if uvx is None:
        sys.exit("uvx is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="closeboard-bench-beancount-"))
    keep = args.keep or work
    keep.mkdir(parents=True, exist_ok=True)
    summary = []
    try:
        for scale in (int(x) for x in args.scales.split(",")):
            end = date(2024, 1, 1)
            begin = date(end.year - 11 * scale, 1, 1)
            ledger = keep / f"bean-example-seed{args.seed}-x{scale}.beancount"
            if not ledger.exists():
                print(
                    f"x{scale}: bean-example --seed {args.seed} {begin}..{end}: "
                    f"{generate(args.seed, begin.isoformat(), end.isoformat(), ledger):.1f} s",
                    flush=True,
                )
            ledger = Path(shutil.copy(ledger, work / f"x{scale}.beancount"))  # changed below: never the kept one
            last = date(end.year - 1, 12, 31)
            home = work / f"home-x{scale}"
            home.mkdir()
            raw = {
                "company": {
                    "name": f"Bench x{scale}",
                    "currency": "USD",
                    "first_period": f"{last.year - 2}-{last.month:02d}",
                    "as_of": last.isoformat(),
                },
                "connectors": {
                    "erp": {
                        "adapter": "beancount",
                        "server": {"command": uvx, "args": [*UVX_ARGS, "--transport", "stdio", str(ledger)]},
                        "allow_tools": ["beancount_query"],
                        "client": {"call_timeout_s": 600},
                        "options": {"currency": "USD", "rounding_account": "Expenses:Rounding"},
                    }
                },
            }
            (home / "closeboard.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
            cold = refresh(home)
            queries, query_s, read = last_run_calls(home)
            print(
                f"\nx{scale}: {ledger.stat().st_size / 1e6:.1f} MB; closeboard cold refresh {cold:.1f} s "
                f"({queries} queries, {query_s:.1f} s; {read:,} postings read)",
                flush=True,
            )
            started = time.perf_counter()
            fava = FavaLedger(str(ledger))
            print(f"  Fava opens the ledger: {time.perf_counter() - started:.2f} s", flush=True)
            ratios = []
            for n in range(1, args.repeat + 1):
                append_change(ledger, f"{last.year}-{last.month - 3:02d}-15", n)
                ours = refresh(home)
                queries, query_s, read = last_run_calls(home)
                started = time.perf_counter()
                fava.load_file()
                theirs = time.perf_counter() - started
                ratios.append(ours / theirs)
                print(
                    f"  change {n}: closeboard refresh {ours:6.2f} s ({queries} queries, {query_s:.2f} s; "
                    f"{read:,} postings read), Fava reload {theirs:5.2f} s: ratio {ours / theirs:5.1f}x",
                    flush=True,
                )
            summary.append((scale, statistics.median(ratios)))
        print("\ncloseboard refresh / Fava reload after a one-month change (median):")
        for scale, ratio in summary:
            print(f"  x{scale}: {ratio:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def profile(args: argparse.Namespace) -> None:
    uvx = shutil.which("uvx")
    if uvx is None:
        sys.exit("uvx is not on PATH")
    work = Path(tempfile.mkdtemp(prefix="closeboard-bench-beancount-"))
    try:
        ledger = args.keep or work / "example.beancount"
        if not ledger.exists():
            print(
                f"bean-example --seed {args.seed} {args.begin}..{args.end}: {generate(args.seed, args.begin, args.end, ledger):.1f} s"
            )

        started = time.perf_counter()
        entries, _errors, options = loader._uncached_load_file(
            str(ledger), None, None, None
        )  # no pickle cache: a real reload
        load_s = time.perf_counter() - started
        (_, ((postings,),)) = run_query(entries, options, "SELECT count(*)")

        raw = {
            "company": {"name": "Bench", "currency": "USD", "first_period": args.begin[:7]},
            "connectors": {
                "erp": {
                    "adapter": "beancount",
                    "server": {"command": uvx, "args": [*UVX_ARGS, "--transport", "stdio", str(ledger)]},
                    "allow_tools": ["beancount_query"],
                    "client": {"call_timeout_s": 300},
                    "options": {"currency": "USD", "rounding_account": "Expenses:Rounding"},
                }
            },
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
        print(
            f"  erp_journal_lines {lines.rows:>7,} rows (reported total {lines.reported_total:,}; "
            f"{len(lines.rejected)} set aside)"
        )
        print(
            f"  left out, not money: {adapter.left_out.total():,} postings ({dict(sorted(adapter.left_out.items()))})"
        )
        print(f"  erp_fx_rates      {result.tables['erp_fx_rates'].rows:>7,} rows")
        print(f"\nwall time, whole session: {total_s:6.2f} s")
        for name, seconds in times.items():
            print(f"  {name:<42} {seconds:6.2f} s")
        calls_s = sum(r.duration_ms for r in calls) / 1000
        print(
            f"\nqueries after the first: {len(calls)}, {calls_s:.2f} s as seen by the client "
            f"(BQL alone in-process: {sum(bql.values()):.2f} s)"
        )
        for name, records in sorted(by_kind.items()):
            seconds = sum(r.duration_ms for r in records) / 1000
            rows = sum(r.items or 0 for r in records)
            print(
                f"  {name:<28} {len(records):>4} queries {rows:>7,} rows {seconds:6.2f} s "
                f"(BQL alone {bql[name]:5.2f} s, of which parsing the query {parse[name]:5.2f} s; "
                f"{1000 * seconds / len(records):4.0f} ms per query)"
            )
        ours = sum(adapter.seconds.values())
        print(f"\nour own work: {ours:.2f} s")
        for name, seconds in adapter.seconds.items():
            print(f"  {name:<42} {seconds:6.2f} s")
        print(
            f"  the rest of the pull (client, awaits)      {times['pull'] - calls_s - adapter.seconds['postings -> journal lines']:6.2f} s"
        )
        print(
            f"\nreference: beancount.loader.load_file of this ledger in our venv: {load_s:.2f} s; "
            "Fava's reload per the issue: ~1.4 s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
