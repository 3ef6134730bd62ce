"""beancount benchmark: closeboard against Fava on the same bean-example ledgers, after a one-month change.

    uv run --frozen python bench/beancount.py [--scales 1,10] [--seed 1] [--repeat 1] [--keep DIR]
                                              [--servers beanfile,beancount-mcp]
    uv run --frozen python bench/beancount.py --profile [--seed 1] [--begin 2013-01-01] [--end 2024-01-01]

Compare (the default): for each scale, a ledger written by beancount's own `bean-example` (x1:
2013-2023, 12.9k postings; x10: the same generator over 110 years, ~10x the postings; kept in --keep
DIR when given), and for each server a data home whose closeboard.yaml has the ledger as its only
source (two years reported, as a finance team would): `beanfile` (closeboard's bundled server,
connectors/servers/beanfile.py, read by the builtin ERP adapter) and `beancount-mcp` (through uvx, BQL
queries). Then:
  - closeboard: a cold `closeboard refresh` per server, then, after one transaction is appended to the
    file dated three months before its end (a backdated change: that month is pulled again, and the
    open month only through beancount-mcp, whose summary has no digest of its lines), `closeboard
    refresh` in a fresh process as a user runs it (wall time: Python start, Dagster, the stdio server's
    start and its load of the ledger, marts, checks, page), with the calls
    it made (connector_calls) and their time;
  - beanfile kept running (as `--http` serves it): closeboard's ERP step in this process (pull, stage,
    publish into DuckDB) through one long-lived server: the ledger's first load, a full pull, and after
    each change the refresh of the ERP (the server reloads the changed file, the summary names the
    months, only those are pulled);
  - Fava (fava.core.FavaLedger, the dev dependency): the ledger opened once, then, after the same
    change, its reload (`load_file()`, what Fava does when the file changes).
The ratios closeboard / Fava after each change are printed (and their median with --repeat N).
--profile: the beancount-mcp whole-pull profile (where a pull's time goes, query by query).
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

from connectors.adapters import get_adapter  # noqa: E402
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
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"compare: closeboard through which servers ({', '.join(SERVERS)})"
    )
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
            "(where arguments like '%entry_meta(''filename'')%' or tool = 'list_journal_lines'), 0) from connector_calls "
            "where run_id = (select run_id from connector_calls order by called_at desc limit 1)"
        ).fetchone()


def append_change(ledger: Path, day: str, n: int) -> None:
    """One transaction dated `day`, appended at the end of the file (nothing above it moves; booked
    against an account bean-example asserts no balance on, so the ledger still loads cleanly)."""
    with ledger.open("a", encoding="utf-8") as f:
        f.write(
            f'\n{day} * "Bench" "one-month change {n}"\n  Expenses:Food:Restaurant  {12 + n}.34 USD\n'
            "  Liabilities:AccountsPayable\n"
        )


SERVERS = ("beanfile", "beancount-mcp")
SUBTYPES = {"cash": ["Assets:US:BofA:Checking", "Assets:US:*:Cash"], "ap": ["Liabilities:US:Chase:*"]}


def connector(server: str, ledger: Path, uvx: str | None) -> dict[str, Any]:
    """closeboard.yaml's erp connector reading `ledger` through `server`."""
    if server == "beancount-mcp":
        return {
            "adapter": "beancount",
            "server": {"command": uvx, "args": [*UVX_ARGS, "--transport", "stdio", str(ledger)]},
            "allow_tools": ["beancount_query"],
            "client": {"call_timeout_s": 600},
            "options": {"currency": "USD", "rounding_account": "Expenses:Rounding", "subtypes": SUBTYPES},
        }
    subtypes = [a for name, globs in SUBTYPES.items() for a in ("--subtype", f"{name}={','.join(globs)}")]
    return {
        "adapter": "builtin.erp",
        "server": {
            "command": "python",
            "args": [
                "-m",
                "connectors.servers.beanfile",
                "--allow-errors",  # bean-example over 110 years (x10) has ~31k: served as Fava and beancount-mcp do
                "--ledger",
                str(ledger),
                "--rounding-account",
                "Expenses:Rounding",
                *subtypes,
            ],
        },
        "allow_tools": list(get_adapter("builtin.erp").default_tools),
        "client": {"call_timeout_s": 600},
    }


class InProcess:
    """closeboard's ERP step (pull, stage, publish into DuckDB) through one long-lived beanfile server
    in this process, as a server kept running (``--http``) serves it: each refresh reloads the ledger
    only when the file changed."""

    def __init__(self, raw: dict[str, Any], home: Path) -> None:
        import duckdb

        from connectors.servers.beanfile import server_from_args
        from warehouse.db import ensure_schema

        self.config = parse_config(raw)
        args = list(self.config.connectors["erp"].server.args)
        self.server = server_from_args(args[args.index("connectors.servers.beanfile") + 1 :])[0]
        self.home = home
        self.con = duckdb.connect(str(home / "inprocess.duckdb"))
        ensure_schema(self.con)
        self.runs = 0

    def load(self) -> float:
        """The server's load of the ledger if it changed (beancount's loader and the mapping): its seconds."""
        started = time.perf_counter()
        self.server.ledger_source.current()
        return time.perf_counter() - started

    def refresh(self) -> tuple[float, int, str]:
        """(seconds, journal lines read, months pulled) of one ingest of the ERP."""
        from contextlib import contextmanager

        from pipelines.ingest import ingest_source
        from warehouse.home import Home

        @contextmanager
        def connect():  # noqa: ANN202
            yield self.con

        self.runs += 1
        started = time.perf_counter()
        done = ingest_source(
            self.config,
            "erp",
            home=Home(self.home / "inprocess"),
            run_id=f"b{self.runs}",
            connect=connect,
            server=self.server,
        )
        seconds = time.perf_counter() - started
        months = done.pull.replaced_periods
        return seconds, done.pull.tables["erp_journal_lines"].rows, "all" if months is None else ", ".join(months)


def compare(args: argparse.Namespace) -> None:
    import statistics
    from datetime import date

    import yaml
    from fava.core import FavaLedger

    servers = [s for s in args.servers.split(",") if s]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        sys.exit(f"--servers: unknown {sorted(unknown)} (known: {', '.join(SERVERS)})")
    uvx = shutil.which("uvx")
    if "beancount-mcp" in servers and uvx is None:
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
            company = {
                "name": f"Bench x{scale}",
                "currency": "USD",
                "first_period": f"{last.year - 2}-{last.month:02d}",
                "as_of": last.isoformat(),
            }
            print(f"\nx{scale}: {ledger.stat().st_size / 1e6:.1f} MB", flush=True)
            homes = {}
            for server in servers:
                home = homes[server] = work / f"home-x{scale}-{server}"
                home.mkdir()
                raw = {"company": company, "connectors": {"erp": connector(server, ledger, uvx)}}
                (home / "closeboard.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
                cold = refresh(home)
                queries, query_s, read = last_run_calls(home)
                print(
                    f"  {server:<14} cold `closeboard refresh` {cold:7.2f} s ({queries} calls, {query_s:.2f} s in "
                    f"them; {read:,} postings read)",
                    flush=True,
                )
            inproc = None
            if "beanfile" in servers:
                home = work / f"inprocess-x{scale}"
                home.mkdir()
                inproc = InProcess(
                    {"company": company, "connectors": {"erp": connector("beanfile", ledger, uvx)}}, home
                )
                loaded = inproc.load()
                seconds, lines, _ = inproc.refresh()
                print(
                    f"  beanfile kept running: ledger loaded and mapped in {loaded:.2f} s (beancount's loader, its "
                    f"pickle cache included); full pull {seconds:.2f} s ({lines:,} journal lines pulled, staged "
                    "and published)",
                    flush=True,
                )
            started = time.perf_counter()
            fava = FavaLedger(str(ledger))
            print(f"  Fava opens the ledger: {time.perf_counter() - started:.2f} s", flush=True)
            ratios: dict[str, list[float]] = defaultdict(list)
            for n in range(1, args.repeat + 1):
                append_change(ledger, f"{last.year}-{last.month - 3:02d}-15", n)
                started = time.perf_counter()
                fava.load_file()
                theirs = time.perf_counter() - started
                print(f"  change {n}: Fava reload {theirs:5.2f} s", flush=True)
                if inproc is not None:
                    reload = inproc.load()  # what the refresh's first call waits for
                    rest, lines, months = inproc.refresh()
                    ours = reload + rest
                    ratios["beanfile kept running: reload"].append(reload / theirs)
                    ratios["beanfile kept running: reload + ERP step"].append(ours / theirs)
                    print(
                        f"    beanfile kept running: reload {reload:5.2f} s ({reload / theirs:4.2f}x Fava) + the ERP "
                        f"step {rest:5.2f} s ({lines:,} lines of {months} pulled, staged, published) = {ours:5.2f} s: "
                        f"{ours / theirs:4.2f}x Fava",
                        flush=True,
                    )
                for server in servers:
                    ours = refresh(homes[server])
                    queries, query_s, read = last_run_calls(homes[server])
                    ratios[f"{server} `closeboard refresh`"].append(ours / theirs)
                    print(
                        f"    {server:<14} `closeboard refresh` {ours:6.2f} s ({queries} calls, {query_s:.2f} s; "
                        f"{read:,} postings read): {ours / theirs:5.1f}x Fava",
                        flush=True,
                    )
            summary += [(scale, name, statistics.median(r)) for name, r in ratios.items()]
        print("\ncloseboard / Fava's reload after a one-month change (median):")
        for scale, name, ratio in summary:
            print(f"  x{scale} {name:<40} {ratio:6.2f}x")
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
