"""Which processes run, read from /proc: the tests that check what a command starts and stops (servers
started ahead, the refresh process `closeboard serve` keeps ready) share these."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

# the start of a Python process's code for the tests of how it ends: an exit handler registered first (so
# it runs last) that says it ran, and an object that says when the interpreter's teardown frees it (a
# process that ends without the teardown never prints that: its output ends with the handler's line)
EXIT_PROBE = (
    "import atexit\n"
    "atexit.register(lambda: print('exit handler ran', flush=True))\n"
    "class TornDown:\n"
    "    def __del__(self):\n"
    "        print('torn down', flush=True)\n"
    "probe = TornDown()\n"
)


def _table() -> dict[int, tuple[int, list[str]]]:
    """Every live process (zombies left out): pid -> (parent pid, argv)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            argv = (stat.parent / "cmdline").read_bytes().decode().rstrip("\0").split("\0")
        except (OSError, ValueError):
            continue  # gone meanwhile
        if len(argv) == 1:  # a process that set its title (a forked bundled server: its command line)
            argv = argv[0].split(" ")
        if state != "Z":
            table[int(stat.parent.name)] = (int(ppid), argv)
    return table


def children(pid: int, *, deep: bool = False) -> dict[int, list[str]]:
    """The live child processes of `pid` (pid -> argv); with `deep`, their children too, and so on."""
    table = _table()
    found: dict[int, list[str]] = {}
    parents = [pid]
    while parents:
        parent = parents.pop()
        for child, (ppid, argv) in table.items():
            if ppid == parent and child not in found:
                found[child] = argv
                if deep:
                    parents.append(child)
    return found


def module(argv: list[str]) -> str | None:
    """The module a Python process runs (`python -m MODULE`), else None."""
    return argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None


def bundled_servers(pid: int) -> dict[str, list[int]]:
    """The bundled servers `pid` started (its children, or forked by its fork server, connectors/forking.py):
    name (erp, bank, ...) -> their pids."""
    running: dict[str, list[int]] = {}
    for child, argv in children(pid, deep=True).items():
        name = module(argv) or ""
        if name.startswith("connectors.servers.") and name != "connectors.servers.forkserver":
            running.setdefault(name.rsplit(".", 1)[1], []).append(child)
    return running


def alive(pid: int) -> bool:
    """`pid` runs (a zombie does not)."""
    return pid in _table()


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    """Wait until `condition()` holds; an AssertionError saying `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
