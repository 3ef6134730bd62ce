"""stdio servers started ahead of their sessions, all at once.

A stdio server spends most of its first second importing (the MCP SDK alone is ~0.5 s), and a
refresh reads its sources one after another: started when its session opens, each server's start
adds to the run. A `ServerPool` starts every stdio server a run will read at once, when the run
reads its first source; each source's session then adopts the process started for exactly its
command, arguments and environment, and talks to it and stops it as if it had started it
(`connectors.stdio.stdio_client(process=...)`). A server started for a source that is not read
after all (its parameters changed, the run failed first) is stopped when the pool closes.

The processes belong to the event loop that started them, so the pool runs one event loop on a
thread of its own for as long as it is open, and the pulls of its run go through that loop
(`ServerPool.call`) instead of one `anyio.run` each.

The bundled servers are forked from one fork server the pool starts (connectors/forking.py), which
imports what they all import once instead of four times at once; any other server is spawned by its
command.

A run's pool is found by its run id (`ServerPool.of_run`): the CLI starts the servers of the run it is
about to launch before it imports Dagster (`run_with_servers`), and the run's first source step those
it still lacks; the run's end closes it (`ServerPool.end_run`, SourcesResource's teardown).

A process that will run a refresh later (pipelines/warm.py, the refresh `closeboard serve` keeps ready
for the page's reload) starts its servers before the run has an id (`ServerPool.start_ahead`): the next
run's pool is that one. What changed meanwhile is still seen: a bundled server reads its files again
when they change; a session adopts only a process started for exactly its parameters as the run makes
them (closeboard.yaml read again), and still running; the others are stopped with the pool.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from anyio.abc import Process
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.client.stdio import StdioServerParameters, _stop_server_process

from connectors.client import SourceSession
from connectors.config import Config, ConfigError
from connectors.forking import ForkedProcess, ForkServer, forkable
from connectors.stdio import spawn

logger = logging.getLogger(__name__)

T = TypeVar("T")
FORK_WAIT_S = 30.0  # how long a server started ahead and never taken may wait to be forked before it is stopped
Key = tuple[str, tuple[str, ...], tuple[tuple[str, str], ...], str | None]


def _key(server: StdioServerParameters) -> Key:
    return (
        server.command,
        tuple(server.args),
        tuple(sorted((server.env or {}).items())),
        str(server.cwd) if server.cwd is not None else None,
    )


def stdio_servers(config: Config, home: Path, sources: Iterable[str]) -> list[StdioServerParameters]:
    """How the stdio servers of `sources` (those `config` configures) are started, as their sessions
    will start them from data home `home`. A source whose parameters cannot be made (an unset
    ${SECRET}) is left out: its own session names the problem."""
    servers = []
    for source in sources:
        connector = config.connectors.get(source)
        if connector is None or connector.server.url:
            continue
        try:
            servers.append(SourceSession(connector, home=home).stdio_parameters())
        except ConfigError:
            continue
    return servers


@contextmanager
def run_with_servers(config: Config, home: Path, sources: Iterable[str]) -> Iterator[str]:
    """A new run id with the stdio servers of `sources` started for it (`ServerPool.of_run`), for a
    caller that then launches that run in its own process (the CLI, bench/refresh.py). The run's end
    stops what no session took; leaving the block does it too, for a run that never started."""
    run_id = str(uuid.uuid4())
    try:
        ServerPool.of_run(run_id).start(stdio_servers(config, home, sources))
        yield run_id
    finally:
        ServerPool.end_run(run_id)


class ServerPool:
    """Servers started ahead, each waiting for the one session whose parameters are its own."""

    _runs: ClassVar[dict[str, ServerPool]] = {}  # the pool of each run under way, by run id
    _ahead: ClassVar[ServerPool | None] = None  # started before its run had an id: the next run's

    @classmethod
    def of_run(cls, run_id: str) -> ServerPool:
        """Run `run_id`'s pool (made on the first call; the pool started ahead, if there is one)."""
        if run_id not in cls._runs:
            cls._runs[run_id], cls._ahead = cls._ahead or cls(), None
        return cls._runs[run_id]

    @classmethod
    def start_ahead(cls, servers: Iterable[StdioServerParameters]) -> None:
        """Start `servers` for the next run of this process, before it has an id (`of_run` gives it them)."""
        if cls._ahead is None:
            cls._ahead = cls()
        cls._ahead.start(servers)

    @classmethod
    def end_ahead(cls) -> None:
        """Stop the servers started ahead that no run has taken (the process will run none)."""
        pool, cls._ahead = cls._ahead, None
        if pool is not None:
            pool.close()

    @classmethod
    def end_run(cls, run_id: str) -> None:
        """Close run `run_id`'s pool, if it has one."""
        pool = cls._runs.pop(run_id, None)
        if pool is not None:
            pool.close()

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._waiting: dict[Key, tuple[Process, Any]] = {}
        self._started: set[Key] = set()  # every server started, waiting or taken since
        self._forks: ForkServer | None = None  # the bundled servers' fork server (connectors/forking.py)

    def _loop(self) -> BlockingPortal:
        if self._portal is None:
            self._stack = ExitStack()
            self._portal = self._stack.enter_context(start_blocking_portal())
        return self._portal

    def start(self, servers: Iterable[StdioServerParameters]) -> None:
        """Start each of `servers` not started before, all at once; a server that cannot be started
        is left to its session, which names the failure."""
        todo = {_key(s): s for s in servers if _key(s) not in self._started}
        self._started |= set(todo)
        if not todo:
            return

        async def start_all() -> None:
            for key, server in todo.items():
                errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
                try:
                    self._waiting[key] = (await self._spawn(server, errlog), errlog)
                except Exception:  # e.g. no such command: the session's own start says so
                    logger.debug("server %s not started ahead", server.command, exc_info=True)
                    errlog.close()

        self._loop().call(start_all)

    async def _spawn(self, server: StdioServerParameters, errlog: Any) -> Process:
        """A bundled server forked from the fork server (its imports done once for all), any other
        server (or every one, should the fork server fail) started by its own command."""
        module = forkable(server)
        if module is not None and (self._forks is None or not self._forks.failed):
            if self._forks is None:
                self._forks = ForkServer()
            try:
                return await self._forks.spawn(server, module, errlog)
            except OSError:
                logger.warning("the fork server could not be asked for %s; starting it by its command", module)
        return await spawn(server, errlog)

    def take(self, server: StdioServerParameters) -> tuple[Process, Any] | None:
        """The process started for exactly `server` and the file its stderr goes to (now the
        caller's to stop and close), or None: none was, or it has ended while it waited (its
        session starts a server of its own)."""
        waiting = self._waiting.pop(_key(server), None)
        if waiting is not None and waiting[0].returncode is not None:
            waiting[1].close()
            return None
        return waiting

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `func(*args)` on the pool's event loop (where its processes live) and wait for it."""
        return self._loop().call(func, *args)

    def close(self) -> None:
        """Stop every server no session took, then the event loop."""
        waiting, self._waiting = list(self._waiting.values()), {}
        if self._portal is not None and waiting:

            async def stop_all() -> None:
                for process, _ in waiting:
                    if isinstance(process, ForkedProcess):  # stopped like the others, once forked
                        await process.forked(FORK_WAIT_S)
                    await _stop_server_process(process)

            try:
                self._portal.call(stop_all)
            except Exception:  # pragma: no cover - best effort: the processes are ours to reap
                logger.warning("stopping servers started ahead failed", exc_info=True)
        for _, errlog in waiting:
            errlog.close()
        forks, self._forks = self._forks, None
        if forks is not None and self._portal is not None:
            try:
                self._portal.call(forks.aclose)
            except Exception:  # pragma: no cover - best effort, as above
                logger.warning("closing the fork server failed", exc_info=True)
        stack, self._stack, self._portal = self._stack, None, None
        if stack is not None:
            stack.close()
