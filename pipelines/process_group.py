"""Stopping `closeboard ui`'s `dagster dev` with all its processes (webserver, daemon, code servers).

`dagster dev` stops in order when its own process (the group leader) gets SIGINT (SIGTERM is mapped to it):
it tells the webserver and the daemon to stop through their shutdown pipes, waits for them, then stops its
code servers. Signalling the whole group instead makes each process stop on its own, the code server first,
and the daemon then waits on calls to a server that is gone (4-7 s instead of about 2). So the leader alone
is signalled, the group is watched until no live process is left in it, and whatever is still there after
the grace period is killed.

Run as `python -m pipelines.process_group GROUP GRACE` it is the watcher `closeboard ui` starts: it reads
its stdin, a pipe whose write end only `closeboard ui` holds, so the read returns once that process is gone
however it ended (SIGKILL included), and then stops the group the same way.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

_PROC = Path("/proc")


def group_alive(group: int) -> bool:
    """A live process is in the group. Zombies do not count: a process whose parent died stays a zombie
    until PID 1 reaps it, which a container's PID 1 may never do (`killpg(group, 0)` would count it)."""
    if not _PROC.is_dir():  # no /proc: the kernel's own answer, zombies included (ours are reaped first)
        _reap(group)
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in _PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def _reap(group: int) -> None:
    """Collect the exit status of this process's own children in the group (the leader): without /proc a
    zombie cannot be told from a live process. Children of other processes are not ours to reap."""
    while True:
        try:
            pid, _ = os.waitpid(-group, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop_group(group: int, grace_s: float, poll_s: float = 0.05) -> None:
    """SIGINT to the group's leader (an ordered shutdown), then SIGKILL to whatever of the group is still
    alive after `grace_s` seconds. Returns once no live process is left in the group."""
    try:
        os.kill(group, signal.SIGINT)
    except ProcessLookupError:
        pass  # the leader is gone already: its children may not be
    deadline = time.monotonic() + grace_s
    while True:
        if not group_alive(group):
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return
    while group_alive(group):  # SIGKILL is not refused: this ends within a few polls
        time.sleep(poll_s)


def _watch(group: int, grace_s: float) -> None:
    os.read(0, 1)  # returns (empty) once the only holder of the write end has exited
    stop_group(group, grace_s)


if __name__ == "__main__":
    _watch(int(sys.argv[1]), float(sys.argv[2]))
