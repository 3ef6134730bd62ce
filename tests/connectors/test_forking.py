"""Bundled servers forked from the fork server (connectors/forking.py, connectors/servers/forkserver.py):
each runs as its own command would (arguments, environment, working folder, stdio, exit status, its
command line in `ps`), the fork server's end does not hide a server's, and a pool's fork server ends
with it.

Real processes: the fork server and the bundled servers it forks, talked to through closeboard's
stdio transport and MCP client; which processes run is read from /proc."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from connectors.forking import UNKNOWN_STATUS, ForkedProcess, ForkServer, forkable
from connectors.prestart import ServerPool
from connectors.stdio import stdio_client
from tests.processes import alive, children, wait_for


def bundled(name: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", f"connectors.servers.{name}", *args], env=env, cwd=cwd
    )


def errlog() -> tempfile._TemporaryFileWrapper:
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")


def test_only_this_python_s_bundled_servers_are_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert forkable(bundled("erp", "--data", "x")) == "connectors.servers.erp"
    assert forkable(StdioServerParameters(command="python3", args=["-m", "connectors.servers.erp"])) is None
    assert forkable(StdioServerParameters(command=sys.executable, args=["-m", "beancount_mcp"])) is None
    assert forkable(StdioServerParameters(command=sys.executable, args=["connectors/servers/erp.py"])) is None
    assert forkable(bundled("forkserver", "3")) is None
    assert forkable(StdioServerParameters(command=sys.executable, args=["-m", "connectors.servers.a;b"])) is None
    monkeypatch.setattr(sys, "platform", "darwin")  # no /proc, no pidfd: started by its command
    assert forkable(bundled("erp", "--data", "x")) is None


def test_a_forked_server_runs_as_its_command_would(demo_data: Path, tmp_path: Path) -> None:
    """Its arguments (a relative --data) and working folder are the ones asked for, it answers over its
    pipes, `ps` shows its command line, and it exits when its session closes its input."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "demo").symlink_to(demo_data)
    forks = ForkServer()
    log = errlog()
    server = bundled("budget", "--data", "demo", cwd=home)

    async def main() -> tuple[int, list[str], Path, int | None]:
        process = await forks.spawn(server, "connectors.servers.budget", log)
        async with Client(stdio_client(server, log, process=process)) as client:
            result = await client.call_tool("list_budgets", {"limit": 1})
            assert not result.is_error, result
            pid = process.pid
            argv = children(forks._process.pid)[pid]
            cwd = (Path("/proc") / str(pid) / "cwd").resolve()
        code = process.returncode  # stopped by its session as any server: stdin closed, it exits
        await forks.aclose()
        return pid, argv, cwd, code

    pid, argv, cwd, code = anyio.run(main)
    assert argv == [sys.executable, "-m", "connectors.servers.budget", "--data", "demo"]
    assert cwd == home.resolve()
    assert code == 0 and not alive(pid)


def test_the_environment_is_exactly_the_one_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundled server's data folder defaults to $CLOSEBOARD_DATA, else ./var/demo: forked without
    --data, it looks where the asked-for environment says, never where this process's does; an argument
    error exits with argparse's status, its message on the server's stderr."""
    monkeypatch.setenv("CLOSEBOARD_DATA", str(tmp_path))  # this process's: no server may see it
    forks = ForkServer()
    logs = [errlog(), errlog(), errlog()]
    missing = tmp_path / "nowhere"

    async def main() -> list[int]:
        asked = [
            bundled("crm", env={"CLOSEBOARD_DATA": str(missing)}),
            bundled("crm", cwd=tmp_path),
            bundled("crm", "--no-such-option"),
        ]
        processes = [await forks.spawn(s, "connectors.servers.crm", log) for s, log in zip(asked, logs, strict=True)]
        with anyio.fail_after(60):
            codes = [await p.wait() for p in processes]
        await forks.aclose()
        return codes

    assert anyio.run(main) == [2, 2, 2]
    said = []
    for log in logs:
        log.seek(0)
        said.append(log.read())
    assert f"data directory not found: {missing}" in said[0]
    assert f"data directory not found: {tmp_path / 'var' / 'demo'}" in said[1]
    assert "unrecognized arguments: --no-such-option" in said[2]


def test_a_killed_server_s_status_is_its_signal_and_the_fork_server_s_end_hides_no_server_s(
    demo_data: Path,
) -> None:
    forks = ForkServer()
    log = errlog()

    async def main() -> tuple[int, int]:
        killed = await forks.spawn(bundled("budget", "--data", str(demo_data)), "connectors.servers.budget", log)
        assert await killed.forked(30)
        killed.kill()
        with anyio.fail_after(30):
            by_signal = await killed.wait()
        orphan = await forks.spawn(bundled("budget", "--data", str(demo_data)), "connectors.servers.budget", log)
        assert await orphan.forked(30)
        os.kill(forks._process.pid, signal.SIGKILL)  # the fork server ends first
        with anyio.fail_after(30):
            await forks._process.wait()
        await anyio.sleep(0.2)
        assert forks.failed and orphan.returncode is None  # the server runs on
        os.kill(orphan.pid, signal.SIGTERM)
        with anyio.fail_after(30):
            status = await orphan.wait()  # seen through its pidfd
        await forks.aclose()
        return by_signal, status

    assert anyio.run(main) == (-signal.SIGKILL, UNKNOWN_STATUS)


def test_a_pool_s_fork_server_ends_with_it_and_a_failed_one_is_not_asked_again(
    demo_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = ServerPool()
    servers = [bundled("budget", "--data", str(demo_data)), bundled("crm", "--data", str(demo_data))]
    pool.start(servers[:1])
    forks = pool._forks
    assert forks is not None
    fork_server = forks._process.pid
    process, log = pool._waiting[next(iter(pool._waiting))]
    assert isinstance(process, ForkedProcess)
    pool.close()  # the unused server stopped (once forked), then the fork server
    log.close()
    assert not alive(fork_server) and not children(os.getpid(), deep=True)

    failed = ServerPool()
    try:
        failed.start(servers[:1])
        failed_forks = failed._forks
        os.kill(failed_forks._process.pid, signal.SIGKILL)
        wait_for(lambda: failed_forks.failed, "the fork server's end not seen")
        failed.start(servers[1:])  # started by its own command now
        crm = failed._waiting[next(k for k in failed._waiting if "connectors.servers.crm" in k[1])][0]
        assert not isinstance(crm, ForkedProcess)
    finally:
        failed.close()
