"""Peak memory per process for the benchmarks, read in the right process (Linux /proc).

`peak_rss_mib()` is this process's high-water mark (VmHWM); `ChildPeaks` watches this process's
children (the stdio MCP servers a run starts) from a background thread and keeps each one's VmHWM,
which only grows, so its last reading before the child exits is the child's peak (a child that grows
in its last `interval` seconds and exits is caught by `resource`'s RUSAGE_CHILDREN, also printed).
"""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path


def peak_rss_mib(pid: int | str = "self") -> float | None:
    """VmHWM of a live process in MiB (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def reset_peak_rss() -> None:
    """Set this process's VmHWM back to its current RSS (Linux >= 4.0: "5" to /proc/self/clear_refs),
    so that `peak_rss_mib()` is the peak of what runs next; where the kernel refuses, it stays the
    process's lifetime peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def current_rss_mib(pid: int | str = "self") -> float | None:
    """VmRSS of a live process in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def waited_children_peak_mib() -> float:
    """The largest peak RSS among this process's children that have been waited for."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _descendants(ancestor: int) -> list[int]:
    """The processes `ancestor` started, and theirs (the bundled servers the fork server forks)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found, todo = [], [ancestor]
    while todo:
        parent = todo.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                found.append(pid)
                todo.append(pid)
    return found


def _server_label(pid: int) -> str | None:
    """`erp` for `python -m connectors.servers.erp ...`; None for any other child (a log tailer, a
    resource tracker), which is not a server."""
    try:
        words = [a.decode(errors="replace") for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if a]
    except OSError:
        return None
    if len(words) == 1:  # a forked bundled server's title: its command line as one string
        words = words[0].split(" ")
    if "-m" in words and words.index("-m") + 1 < len(words):
        return words[words.index("-m") + 1].rsplit(".", 1)[-1]
    return None


class ChildPeaks:
    """Samples the VmHWM of the processes this one started that are servers (`python -m ...`, the fork
    server too) every
    `interval` seconds while running."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peaks: dict[str, float] = {}  # server (its module's last part) -> MiB
        self.own: list[tuple[float, float]] = []  # (epoch seconds, this process's VmRSS in MiB) at each sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def sample(self) -> None:
        now, rss = time.time(), current_rss_mib()
        if rss is not None:
            self.own.append((now, rss))
        for pid in _descendants(os.getpid()):
            label = _server_label(pid)
            peak = peak_rss_mib(pid) if label else None
            if label and peak is not None:
                self.peaks[label] = max(self.peaks.get(label, 0.0), peak)

    def own_peak_between(self, start: float, end: float) -> float | None:
        """This process's largest sampled RSS from `start` to `end` (epoch seconds), e.g. one step's."""
        inside = [rss for at, rss in self.own if start <= at <= end]
        return max(inside, default=None)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
