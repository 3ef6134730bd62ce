"""Bundled servers forked from one process that imported their libraries once
(connectors/servers/forkserver.py), for the servers a `ServerPool` starts ahead (connectors/prestart.py).

`ForkServer.spawn` answers at once with a `ForkedProcess`: its stdin and stdout are pipes made here
(a request written before the fork server has forked the server waits in the pipe), and the fork
server forks the server as soon as its own imports are done. The process is then what `spawn` in
connectors/stdio.py would have started, in the same session-and-group arrangement, so the stdio
transport talks to it and stops it the same way: its stdin closed, then its process group signalled.
Only its exit status comes another way: the fork server, its parent, reaps it and reports it (were
the fork server to end first, the process's end is still seen, through a pidfd, with no status).

Only a server this Python runs as `-m connectors.servers.<name>` is forked (`forkable`), on Linux; any
other command is spawned as before.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from contextlib import suppress
from typing import TextIO

import anyio
import anyio.abc
import anyio.lowlevel
from mcp.client.stdio import StdioServerParameters, get_default_environment

from connectors.servers.forkserver import MAX_MESSAGE, MODULE_PREFIX

logger = logging.getLogger(__name__)

FORKSERVER_MODULE = "connectors.servers.forkserver"
UNKNOWN_STATUS = -1  # a process whose end was seen without its status (the fork server was gone)


def forkable(server: StdioServerParameters) -> str | None:
    """The bundled server module `server` runs (this Python, ``-m connectors.servers.<name>``), else None;
    always None but on Linux (the fork server counts its threads in /proc, a server's end is watched
    through a pidfd): elsewhere every server is started by its command."""
    args = list(server.args)
    if not sys.platform.startswith("linux"):
        return None
    if server.command != sys.executable or len(args) < 2 or args[0] != "-m":
        return None
    module = args[1]
    if not module.startswith(MODULE_PREFIX) or module == FORKSERVER_MODULE:
        return None
    if not module.removeprefix(MODULE_PREFIX).isidentifier() or server.encoding.lower().replace("_", "-") != "utf-8":
        return None
    return module


class _PipeReader(anyio.abc.ByteReceiveStream):
    def __init__(self, reader: asyncio.StreamReader, transport: asyncio.BaseTransport) -> None:
        self._reader, self._transport = reader, transport

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await self._reader.read(max_bytes)
        if not data:
            raise anyio.EndOfStream
        return data

    async def aclose(self) -> None:
        self._reader.set_exception(anyio.ClosedResourceError())  # a read under way ends
        self._transport.close()
        await anyio.lowlevel.checkpoint()


class _PipeWriter(anyio.abc.ByteSendStream):
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer, self._closed = writer, False

    async def send(self, item: bytes) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            self._writer.write(item)
            await self._writer.drain()
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise anyio.BrokenResourceError from exc

    async def aclose(self) -> None:
        self._closed = True
        self._writer.close()  # the server reads the end of its input
        await anyio.lowlevel.checkpoint()


class ForkedProcess(anyio.abc.Process):
    """A server forked by the fork server: its pipes, its pid once forked, its status once reaped."""

    def __init__(self, stdin: _PipeWriter, stdout: _PipeReader) -> None:
        self._stdin, self._stdout = stdin, stdout
        self._pid: int | None = None
        self._returncode: int | None = None
        self._started = asyncio.Event()  # forked, or known never to be
        self._ended = asyncio.Event()
        self._pidfd: int | None = None

    def _forked(self, pid: int) -> None:
        self._pid = pid
        self._started.set()

    def _exited(self, status: int) -> None:
        if self._returncode is None:
            self._returncode = status
            self._started.set()
            self._ended.set()
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _watch(self) -> None:
        """The fork server is gone: see this process's end through a pidfd (its status is lost)."""
        if self._returncode is not None:
            return
        if self._pid is None:  # never forked
            self._exited(UNKNOWN_STATUS)
            return
        try:
            self._pidfd = os.pidfd_open(self._pid)
        except OSError:  # already gone
            self._exited(UNKNOWN_STATUS)
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self._exited, UNKNOWN_STATUS)

    async def forked(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the fork server to have forked this server (or to have
        failed to): whether it has. Its own stop (the SDK's: stdin closed, a grace, then its group
        signalled) needs its pid; the first server may wait for the fork server's imports."""
        with anyio.move_on_after(timeout):
            await self._started.wait()
        return self._started.is_set()

    @property
    def pid(self) -> int:
        if self._pid is None:
            raise ProcessLookupError("the fork server has not forked this server yet")
        return self._pid

    @property
    def returncode(self) -> int | None:
        return self._returncode

    async def wait(self) -> int:
        await self._ended.wait()
        assert self._returncode is not None
        return self._returncode

    def send_signal(self, signal: int) -> None:
        if self._returncode is None:  # never a pid the fork server has reaped (it may be reused)
            os.kill(self.pid, signal)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stdin.aclose()
            await self._stdout.aclose()
        await self.wait()

    @property
    def stdin(self) -> anyio.abc.ByteSendStream:
        return self._stdin

    @property
    def stdout(self) -> anyio.abc.ByteReceiveStream:
        return self._stdout

    @property
    def stderr(self) -> None:
        return None


class ForkServer:
    """The fork server process and the servers forked from it; lives on the event loop that starts it."""

    def __init__(self) -> None:
        self._process: anyio.abc.Process | None = None
        self._sock: socket.socket | None = None
        self._errlog: TextIO | None = None
        self._ids = itertools.count()
        self._asked: dict[int, ForkedProcess] = {}  # by request id, until forked
        self._forked: dict[int, ForkedProcess] = {}  # by pid, until reaped
        self.failed = False  # it ended, or could not be asked: servers are started by their commands
        self._closed = False

    async def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        try:
            self._process = await anyio.open_process(
                [sys.executable, "-m", FORKSERVER_MODULE, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._errlog,
                env=get_default_environment(),  # each server's own is set in it after the fork
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            self.failed = True
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._read)

    async def spawn(self, server: StdioServerParameters, module: str, errlog: TextIO) -> ForkedProcess:
        """Ask for `server` (running `module`) to be forked, its stderr going to `errlog`; the process
        is answered at once, its pid filled in when the fork server has forked it."""
        if self.failed or self._closed:
            raise OSError("the fork server has ended")
        if self._sock is None:
            await self._start()
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)
        request = json.dumps(
            {
                "id": request_id,
                "module": module,
                "args": list(server.args)[2:],
                "env": get_default_environment() | (server.env or {}),
                "cwd": str(server.cwd) if server.cwd is not None else os.getcwd(),
            }
        ).encode()
        if len(request) > MAX_MESSAGE:
            raise OSError("the request is longer than the fork server reads")
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        ours = [os.fdopen(stdout_r, "rb", buffering=0), os.fdopen(stdin_w, "wb", buffering=0)]
        transports: list[asyncio.BaseTransport] = []
        try:
            reader = asyncio.StreamReader(loop=loop)  # asyncio's subprocess pipes' buffer: read on, not hoarded
            read_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader, loop=loop), ours[0]
            )
            transports.append(read_transport)
            write_transport, protocol = await loop.connect_write_pipe(
                lambda: asyncio.streams.FlowControlMixin(loop=loop), ours[1]
            )
            transports.append(write_transport)
            writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
            process = ForkedProcess(_PipeWriter(writer), _PipeReader(reader, read_transport))
            # known before it is asked for: the answer may be read at the first await after the send
            self._asked[request_id] = process
            socket.send_fds(self._sock, [request], [stdin_r, stdout_w, errlog.fileno()])
        except BaseException:
            self._asked.pop(request_id, None)
            for transport in transports:
                transport.close()
            for pipe in ours[len(transports) :]:
                pipe.close()
            raise
        finally:
            for fd in (stdin_r, stdout_w):
                os.close(fd)
        return process

    def _read(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(MAX_MESSAGE)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._gone()
                return
            message = json.loads(data)
            if "exit" in message:
                if (process := self._forked.pop(message["exit"], None)) is not None:
                    process._exited(message["status"])
            elif (process := self._asked.pop(message["id"], None)) is not None:
                if "pid" in message:
                    process._forked(message["pid"])
                    self._forked[message["pid"]] = process
                else:
                    logger.warning("the fork server could not start a server: %s", message.get("error"))
                    process._exited(UNKNOWN_STATUS)

    def _hang_up(self) -> None:
        """Stop reading the fork server; what it had not reported (a fork, an exit) is watched here."""
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()
        for process in [*self._asked.values(), *self._forked.values()]:
            process._watch()
        self._asked.clear()
        self._forked.clear()

    def _gone(self) -> None:
        """The fork server ended (or its socket broke)."""
        self._hang_up()
        self.failed = True
        if self._errlog is not None:
            with suppress(OSError, ValueError):
                self._errlog.seek(0)
                if text := self._errlog.read().strip():
                    logger.warning("the fork server ended: %s", text[-2000:])

    async def aclose(self) -> None:
        """Close the socket: the fork server ends once its servers have (each is stopped by its own session)."""
        self._closed = True
        self._hang_up()
        if self._process is not None:
            with anyio.move_on_after(5):
                await self._process.wait()
            if self._process.returncode is None:
                with suppress(ProcessLookupError):
                    self._process.kill()
                await self._process.wait()
        if self._errlog is not None:
            self._errlog.close()
