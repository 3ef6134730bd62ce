"""Operations (issue 16, finding 9): a waiting run says what it waits for; `closeboard ui` stops on a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.process_group import stop_group
from tests.conftest import REPO, free_port, wait_for_port
from warehouse.db import WarehouseBusy, WarehouseLock
from warehouse.home import Home


def test_a_second_writer_says_which_run_it_waits_for(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    heard: list[str] = []
    with WarehouseLock(home, owner="run-first"):
        second = WarehouseLock(home, owner="run-second", timeout_s=0.3, on_wait=heard.append)
        with pytest.raises(WarehouseBusy, match="run run-first"):
            second.acquire()
    assert len(heard) == 1 and heard[0].startswith("waiting for the warehouse: run run-first")
    quiet: list[str] = []
    with WarehouseLock(home, owner="run-third", on_wait=quiet.append):
        pass
    assert quiet == []  # a free lock is taken without a word


def _group_alive(pgid: int) -> bool:
    """A live (not zombie) process is in the group. A process killed after its parent died stays a zombie
    until PID 1 reaps it, and this machine's PID 1 may never do so: `killpg(pgid, 0)` would count it."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@pytest.mark.slow  # `closeboard ui` (the Dagster webserver and daemon) as a subprocess, stopped by a signal
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL]
)  # SIGKILL: the watcher stops Dagster
def test_closeboard_ui_stops_with_all_its_processes_within_ten_seconds(tmp_path: Path, signum: int) -> None:
    port = free_port()
    env = {**os.environ, "CLOSEBOARD_HOME": str(tmp_path / "home")}
    env.pop("CLOSEBOARD_CONFIG", None)
    cli = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, cli, timeout=120)
        children = subprocess.run(["pgrep", "-P", str(cli.pid)], capture_output=True, text=True).stdout.split()
        assert children, "dagster dev runs as a child of closeboard ui"
        dagster_group = os.getpgid(int(children[0]))
        cli.send_signal(signum)
        deadline = time.monotonic() + 10
        while (cli.poll() is None or _group_alive(dagster_group)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cli.poll() is not None, "closeboard ui still running 10 s after the signal"
        assert not _group_alive(dagster_group), "dagster dev's processes outlived closeboard ui"
    finally:
        for pid in (cli.pid,):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# A leader that stops its child and exits on SIGINT (as `dagster dev` does), and one that ignores every
# stop but SIGKILL, its child too (SIG_IGN is inherited across exec): each with a child in its group.
ORDERLY = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
def stop(*_):
    child.terminate(); child.wait(); sys.exit(0)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
time.sleep(600)
"""
STUBBORN = """
import signal, subprocess, sys, time
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize(("script", "returncode"), [(ORDERLY, 0), (STUBBORN, -signal.SIGKILL)])
def test_the_ui_s_group_is_stopped_through_its_leader_and_killed_if_it_will_not_stop(
    script: str, returncode: int
) -> None:
    leader = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE)
    try:
        assert leader.stdout.readline() == b"ready\n"
        assert subprocess.run(["pgrep", "-P", str(leader.pid)], capture_output=True).stdout, "the child started"
        stop_group(leader.pid, grace_s=3 if returncode else 60)
        assert not _group_alive(leader.pid), "a process of the group outlived stop_group"
        assert leader.wait(timeout=10) == returncode  # the orderly leader exited on its own, never killed
    finally:
        if leader.poll() is None:
            os.killpg(leader.pid, signal.SIGKILL)
