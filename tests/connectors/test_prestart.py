"""Servers started ahead (connectors/prestart.py): a run's stdio servers start at once, each session
adopts the process started for exactly its parameters (no second process), a server no session took
is stopped when the pool closes; a run launched with nothing started (as from Dagster) starts every
source's server at its first source step and no session starts one of its own; a bundled server
process reads its files as it starts (its first call reads none); it never imports pandas, and it
exits without the interpreter's teardown (the session's close waits for that exit), after its warm-up
has read its files.

Real processes: the bundled servers over stdio, read through closeboard's MCP client; which processes
run is read from /proc (this process's children).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from connectors.client import CallLog, SourceSession
from connectors.config import load_config
from connectors.prestart import ServerPool, stdio_servers
from connectors.servers import erp, store
from connectors.servers.hosting import start_warm_up
from connectors.servers.store import DataSource
from tests.conftest import AS_OF, REPO, demo_home_at
from tests.processes import EXIT_PROBE, alive, bundled_servers, wait_for


def bundled_servers_running() -> dict[str, int]:
    """Server -> pid of each live process this one started that runs a bundled server (two processes
    of one server fail the test)."""
    running = bundled_servers(os.getpid())
    for name, pids in running.items():
        assert len(pids) == 1, f"two {name} servers: {pids}"
    return {name: pids[0] for name, pids in running.items()}


def servers_up(*names: str) -> dict[str, int]:
    """`bundled_servers_running()` once exactly `names` run: a server started ahead is forked when the
    fork server has done its imports (connectors/forking.py)."""
    wait_for(lambda: set(bundled_servers_running()) == set(names), f"servers {names} not started")
    return bundled_servers_running()


def gone(pid: int, timeout: float = 15) -> bool:
    try:
        wait_for(lambda: not alive(pid), f"{pid} still running", timeout)
    except AssertionError:
        return False
    return True


@pytest.fixture
def home(demo_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = demo_home_at(demo_data, tmp_path / "home")
    monkeypatch.setenv("CLOSEBOARD_HOME", str(home))  # the demo's server arguments name ${CLOSEBOARD_HOME}
    return home


def test_each_session_adopts_the_server_started_for_it_and_the_unused_one_is_stopped(home: Path) -> None:
    config = load_config(home / "closeboard.yaml")
    pool = ServerPool()
    try:
        servers = stdio_servers(config, home, ["erp", "bank", "no-such-source"])
        assert [s.args[1] for s in servers] == ["connectors.servers.erp", "connectors.servers.bank"]
        pool.start(servers)
        pool.start(servers)  # started once, however often asked
        started = servers_up("erp", "bank")

        async def company() -> dict:
            async with SourceSession(config.connectors["erp"], home=home, log=CallLog(), servers=pool) as session:
                payload, _ = await session.call("get_company", {})
                assert bundled_servers_running()["erp"] == started["erp"]  # the process started ahead, no other
                return payload

        assert pool.call(company)["currency"] == "USD"
        assert gone(started["erp"])  # the session stopped the server it adopted, as one it started itself
        assert bundled_servers_running() == {"bank": started["bank"]}
        pool.start(servers)  # taken is not forgotten: not started again
        assert set(bundled_servers_running()) == {"bank"}
    finally:
        pool.close()
    assert gone(started["bank"])  # no session took it: stopped with the pool


def test_a_session_whose_parameters_changed_starts_its_own_server(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(home / "closeboard.yaml")
    with_run = ServerPool.of_run("run-1")
    try:
        with_run.start(stdio_servers(config, home, ["crm"]))
        ahead = servers_up("crm")["crm"]
        other = home.parent / "other"
        other.mkdir()
        (other / "demo").symlink_to(home / "demo")
        monkeypatch.setenv("CLOSEBOARD_HOME", str(other))  # now the session expands another --data

        async def pipeline() -> None:
            async with SourceSession(config.connectors["crm"], home=other, log=CallLog(), servers=with_run) as s:
                payload, _ = await s.call("list_opportunities", {"limit": 1})
                assert payload["items"]
                bundled_servers_running()

        with pytest.raises(AssertionError, match="two crm servers"):
            with_run.call(pipeline)  # the one started ahead is still waiting: its own is a second crm
        assert bundled_servers_running()["crm"] == ahead  # the session's own server stopped with it
        assert ServerPool.of_run("run-1") is with_run
    finally:
        ServerPool.end_run("run-1")
    assert gone(ahead)
    assert ServerPool.of_run("run-1") is not with_run  # ended: a new run id gets a new pool
    ServerPool.end_run("run-1")


def test_servers_started_before_the_run_has_an_id_are_the_next_run_s_and_one_that_ended_is_not_taken(
    home: Path,
) -> None:
    """As the refresh process `closeboard serve` keeps ready (pipelines/warm.py): servers started ahead
    (`ServerPool.start_ahead`) become the next run's pool; a session adopts the one still running, and
    for the one that ended while it waited starts its own; the servers of a process that runs nothing
    stop with `end_ahead`."""
    config = load_config(home / "closeboard.yaml")
    try:
        ServerPool.start_ahead(stdio_servers(config, home, ["erp", "crm"]))
        ahead = servers_up("erp", "crm")
        os.kill(ahead["crm"], 9)  # ended while it waited
        pool = ServerPool.of_run("run-ahead")
        assert ServerPool.of_run("run-ahead") is pool and ServerPool.of_run("run-other") is not pool

        async def read(source: str, tool: str) -> int:
            log = CallLog()
            async with SourceSession(config.connectors[source], home=home, log=log, servers=pool) as session:
                await session.call(tool, {"limit": 1})
                # answered at the first attempt (a process that has ended, adopted, fails one)
                assert [r.status for r in log.records] == ["ok"], [(r.status, r.error) for r in log.records]
                return bundled_servers_running()[source]

        assert pool.call(read, "erp", "list_accounts") == ahead["erp"]  # the process started ahead
        assert pool.call(read, "crm", "list_opportunities") != ahead["crm"]  # its own, the other one ended
        assert gone(ahead["erp"])
        ServerPool.end_run("run-ahead")
        ServerPool.start_ahead(stdio_servers(config, home, ["bank"]))
        bank = servers_up("bank")["bank"]
        ServerPool.end_ahead()  # the process ran no refresh
        assert gone(bank)
        assert ServerPool.of_run("run-after") is not pool and not bundled_servers_running()
    finally:  # nothing left for the worker's later tests
        ServerPool.end_ahead()
        for run_id in ("run-ahead", "run-other", "run-after"):
            ServerPool.end_run(run_id)


def test_a_run_launched_without_servers_started_starts_them_all_at_its_first_source_step(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a run launched from Dagster (the UI, a schedule): nothing started before it; its first source
    step starts every source's server, and every session adopts its own (no session starts one)."""
    from pipelines.runner import execute
    from warehouse.home import Home

    spawned: dict[str, list[str]] = {"ahead": [], "by a session": []}

    def counting(kind: str, spawn_fn: Any) -> Any:
        async def spawn_and_count(*args: Any) -> Any:  # (server, errlog), or (pool, server, errlog)
            spawned[kind].append(args[-2].args[1].rsplit(".", 1)[1])
            return await spawn_fn(*args)

        return spawn_and_count

    import connectors.stdio

    monkeypatch.setattr(ServerPool, "_spawn", counting("ahead", ServerPool._spawn))
    monkeypatch.setattr(connectors.stdio, "spawn", counting("by a session", connectors.stdio.spawn))
    outcome = execute("refresh", Home(home), config=home / "closeboard.yaml")  # live: stdio servers
    assert outcome.success, outcome.errors
    assert sorted(spawned["ahead"]) == ["bank", "budget", "crm", "erp"]
    assert spawned["by a session"] == []
    assert bundled_servers_running() == {}  # each stopped by its session


def test_a_server_process_reads_its_files_and_answers_the_first_calls_as_it_starts(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[str] = []
    parse = DataSource._parse_csv
    monkeypatch.setattr(
        DataSource, "_parse_csv", lambda self, spec, data: parsed.append(spec.name) or parse(self, spec, data)
    )
    summed: list[int] = []  # each summary computed (the ledger's, the documents', the journal's), by its rows
    monkeypatch.setattr(
        store,
        "_cut_dates",
        lambda dates, width, cut=store._cut_dates: summed.append(len(dates)) or cut(dates, width),
    )
    (home / "demo" / "erp" / "bills.csv").write_text('bill_id,vendor_id\n"unterminated', encoding="utf-8")
    server = erp.build_server(home / "demo")
    assert parsed == []  # built, nothing read yet (in memory, a server reads a file at its first call)
    thread = start_warm_up(server)  # what `serve` does as the process starts
    assert thread is not None
    thread.join(60)
    assert sorted(set(parsed)) == sorted(spec.name for spec in erp.TABLES if (home / "demo" / spec.path).exists())
    assert len(summed) == 4  # the ledger, invoices, payments and journal summaries (the bills' file is broken)
    parsed.clear()
    summed.clear()

    async def first_calls() -> list[Any]:
        async with Client(server) as client:
            return [
                await client.call_tool("get_ledger_summary", {}),
                await client.call_tool("get_document_summary", {"kind": "invoices"}),
                await client.call_tool("get_journal_summary", {}),
                await client.call_tool("get_journal_days", {"date_from": f"{AS_OF:%Y-%m}-01", "date_to": f"{AS_OF}"}),
                await client.call_tool("get_trial_balance", {"date": AS_OF.isoformat()}),
                await client.call_tool("list_journal_lines", {"limit": 5}),
                await client.call_tool("list_bills", {"limit": 5}),
            ]

    *answers, bills = anyio.run(first_calls)
    assert all(not a.is_error and json.loads(a.content[0].text)["items"] for a in answers)
    assert summed == []  # answered from what the server computed as it started
    assert bills.is_error and "bills.csv" in bills.content[0].text  # the broken file is the call's to report
    assert parsed == ["bills"]  # read again only for the file that could not be read ahead


def test_a_call_asking_what_the_warm_up_is_computing_waits_for_that_answer(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server started ahead is often asked its ledger summary while its warm-up still computes it:
    the call waits for that answer instead of computing it a second time alongside (at scale 100 the
    bank's first answer took 1.5 s of a starting refresh, ~0.4 s since)."""
    computing, release = threading.Event(), threading.Event()
    summed: list[str] = []  # the thread of each month summary computed

    def held_month_of(dates: Any, month_of: Any = store.month_of) -> Any:
        summed.append(threading.current_thread().name)
        if not computing.is_set():  # the first summary (the warm-up's ledger summary) waits to go on
            computing.set()
            release.wait(30)
        return month_of(dates)

    monkeypatch.setattr(store, "month_of", held_month_of)
    server = erp.build_server(home / "demo")
    warm_up = start_warm_up(server)
    assert warm_up is not None and computing.wait(60)
    answers: list[Any] = []

    async def ask() -> None:
        async with Client(server) as client:
            answers.append(await client.call_tool("get_ledger_summary", {}))

    caller = threading.Thread(target=anyio.run, args=(ask,))
    caller.start()
    time.sleep(1)  # the call reaches the summary the warm-up holds (were it later, it would find it made)
    release.set()
    caller.join(60)
    warm_up.join(60)
    assert answers and not answers[0].is_error and json.loads(answers[0].content[0].text)["items"]
    assert summed and set(summed) == {"warm-up"}  # every summary computed once, by the warm-up


def python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a Python process of its own, with no input: its exit status and output."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


def test_a_bundled_server_process_never_imports_pandas(home: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from connectors.servers.hosting import without_pandas\n"
        "without_pandas()\n"
        "from connectors.servers import erp\n"
        "from connectors.servers.store import DataSource, Query\n"
        f"page = DataSource(Path({str(home / 'demo')!r}), erp.TABLES).page(Query('journal_lines'), None, 5)\n"
        "assert '\"items\"' in page, page[:200]\n"
        "assert 'pandas' not in sys.modules\n"
        "print('ok')\n"
    )
    proc = python(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_a_bundled_server_process_exits_without_the_interpreter_s_teardown(home: Path) -> None:
    """Each source step closes its session and waits for its stdio server to exit: Python's teardown
    (its final collection alone) made that 0.15-0.2 s a server. Served over stdio until its input ends,
    the server's exit handlers still run, then it exits without the teardown, saying nothing more."""
    code = EXIT_PROBE + (f"from connectors.servers.budget import main\nmain(['--data', {str(home / 'demo')!r}])\n")
    proc = python(code)
    assert proc.returncode == 0 and proc.stdout.strip() == "exit handler ran", (proc.stdout, proc.stderr)
    assert proc.stderr == "", proc.stderr


def test_a_bundled_server_ends_its_warm_up_before_it_exits(home: Path) -> None:
    """A session that ends while the server is still reading its files (a run that failed first, a server
    started ahead for nothing): the reading thread finishes before the interpreter shuts down (a thread in
    pyarrow's native code then can crash the process on its way out), and the exit handlers run after it."""
    code = EXIT_PROBE + (
        "import time\n"
        "from connectors.servers import budget, hosting\n"
        "def build(data_dir, cache=None):\n"
        "    server = budget.build_server(data_dir, cache)\n"
        "    load, answers = hosting._WARM_UP[server]\n"
        "    def slow():\n"
        "        time.sleep(1)\n"
        "        load()\n"
        "        print('files read', flush=True)\n"
        "    return hosting.warm_up(server, slow, *answers)\n"
        f"hosting.serve(build, ['--data', {str(home / 'demo')!r}], prog='budget', cache=True)\n"
    )
    proc = python(code)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout.split("\n") == ["files read", "exit handler ran", ""], proc.stdout
