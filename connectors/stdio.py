"""closeboard's stdio client transport: the SDK's ``mcp.client.stdio.stdio_client`` with a reader
that counts bytes while it reads.

The SDK's reader decodes the child's stdout and holds a whole line before anything can look at
it, so a hostile server can make the client buffer a 2 GB line; it also re-joins its buffer on
every chunk, which costs time on multi-megabyte pages. This one reads raw chunks, splits lines
on ``b"\\n"`` itself (the bytes of a UTF-8 line are joined once) and, as soon as the line being
read grows past ``max_line_bytes``, kills the server's process group, answers every request still
waiting with a JSON-RPC error naming the cap, and ends the stream. Spawning (environment, cwd,
stderr, its own process group) and shutdown (close stdin, grace, kill the tree) are the SDK's own
functions, so they behave exactly as ``stdio_client`` does.

Lines are split on the newline byte, which is right for UTF-8 and every ASCII-compatible
encoding (``StdioServerParameters.encoding``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from typing import TextIO

import anyio
import anyio.lowlevel
import mcp_types as types
from anyio.abc import Process
from mcp.client._transport import TransportStreams
from mcp.client.stdio import (
    _WRITER_FLUSH_TIMEOUT,
    StdioServerParameters,
    _aclose_all,
    _create_platform_compatible_process,
    _drain_stdout,
    _get_executable_command,
    _stop_server_process,
    get_default_environment,
)
from mcp.shared.message import SessionMessage
from mcp_types import INTERNAL_ERROR, ErrorData, JSONRPCError, JSONRPCRequest

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # ask for up to 1 MiB per read (the pipe hands over what it holds)


def too_long_message(cap: int) -> str:
    return (
        f"response exceeded the cap of {cap:,} bytes (client.max_response_bytes) while it was read; "
        "the server was stopped"
    )


def _kill_group(process: object) -> None:
    """SIGKILL the server's process group at once (it was started in a session of its own): a
    server flooding stdout is not given a grace period to keep writing."""
    try:
        pid = getattr(process, "pid", None)
    except ProcessLookupError:  # a server the fork server has not forked yet (connectors/forking.py)
        return
    if pid is None or sys.platform == "win32":  # pragma: no cover - POSIX only
        with suppress(Exception):
            process.kill()  # type: ignore[attr-defined]
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def spawn(server: StdioServerParameters, errlog: TextIO = sys.stderr) -> Process:
    """Start the MCP server `server` as the SDK's ``stdio_client`` does (its environment, cwd and
    stderr, a process group of its own), on the running event loop."""
    command = await _get_executable_command(server.command)
    return await _create_platform_compatible_process(
        command=command,
        args=server.args,
        env=get_default_environment() | (server.env or {}),
        errlog=errlog,
        cwd=server.cwd,
    )


@asynccontextmanager
async def stdio_client(
    server: StdioServerParameters,
    errlog: TextIO = sys.stderr,
    *,
    max_line_bytes: int | None = None,
    process: Process | None = None,
) -> AsyncGenerator[TransportStreams, None]:
    """Spawn the MCP server `server` and talk to it over stdin/stdout, like the SDK's
    ``stdio_client``; a message longer than `max_line_bytes` (None: no cap) stops the server and
    fails every request still waiting with an error naming the cap. `process`: the server already
    started for `server` by `spawn` on this event loop (connectors/prestart.py), talked to and
    stopped as if this transport had started it."""
    if process is None:
        process = await spawn(server, errlog)
    # no awaits until the task group is entered (a cancellation in the gap would leak the process)
    read_stream_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_stream_reader = anyio.create_memory_object_stream[SessionMessage](0)
    shutting_down = False
    writer_done = anyio.Event()
    waiting: set[types.RequestId] = set()  # ids of requests sent and not answered yet
    utf8 = server.encoding.lower().replace("_", "-") in ("utf-8", "utf8") and server.encoding_error_handler == "strict"

    def parse(line: bytes) -> SessionMessage | Exception:
        try:
            data = line if utf8 else line.decode(server.encoding, server.encoding_error_handler)
            message = types.jsonrpc_message_adapter.validate_json(data, by_name=False)
        except ValueError as exc:  # UnicodeDecodeError and pydantic's ValidationError are ValueErrors
            logger.exception("Failed to parse JSONRPC message from server")
            return exc
        if isinstance(message, types.JSONRPCResponse | JSONRPCError) and message.id is not None:
            waiting.discard(message.id)
        return SessionMessage(message)

    async def refuse(cap: int) -> None:
        """The line under way is over the cap: stop the server, fail the waiting requests."""
        _kill_group(process)
        error = ErrorData(code=INTERNAL_ERROR, message=too_long_message(cap))
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):  # the session may be gone
            for request_id in sorted(waiting, key=str):
                await read_stream_writer.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=request_id, error=error)))
        waiting.clear()

    async def stdout_reader() -> None:
        assert process.stdout, "Opened process is missing stdout"
        cap = max_line_bytes
        pending: list[bytes] = []  # the start of the line under way
        size = 0
        try:
            async with read_stream_writer:
                try:
                    while True:
                        try:
                            chunk = await process.stdout.receive(_CHUNK)
                        except anyio.EndOfStream:
                            return
                        start = 0
                        while (end := chunk.find(b"\n", start)) >= 0:
                            if pending:
                                pending.append(chunk[start:end])
                                line, size = b"".join(pending), 0
                                pending.clear()
                            else:
                                line = chunk[start:end]
                            start = end + 1
                            if cap is not None and len(line) > cap:
                                await refuse(cap)
                                return
                            if line.strip():
                                try:
                                    await read_stream_writer.send(parse(line))
                                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                                    return  # the session is gone; only the drain below remains
                        if start < len(chunk):
                            pending.append(chunk[start:] if start else chunk)
                            size += len(chunk) - start
                            if cap is not None and size > cap:
                                await refuse(cap)
                                return
                finally:
                    await _drain_stdout(process)
        except anyio.ClosedResourceError:
            pass  # our own shutdown closed the stdout stream under the read
        except (anyio.BrokenResourceError, ConnectionError):
            if not shutting_down:
                logger.exception("Reading from the MCP server's stdout failed mid-session")

    async def stdin_writer() -> None:
        assert process.stdin, "Opened process is missing stdin"
        try:
            async with write_stream_reader:
                async for session_message in write_stream_reader:
                    message = session_message.message
                    if isinstance(message, JSONRPCRequest):
                        waiting.add(message.id)
                    json = message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((json + "\n").encode(server.encoding, server.encoding_error_handler))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_stream_writer.aclose()  # the session sees the connection end, not a hang
        finally:
            writer_done.set()

    async def shutdown() -> None:  # as the SDK's: stop traffic, flush, stop the server, release the streams
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(_WRITER_FLUSH_TIMEOUT) as flush_scope:
            await writer_done.wait()
        if flush_scope.cancelled_caught:
            await anyio.lowlevel.cancel_shielded_checkpoint()
        await _stop_server_process(process)
        await _aclose_all(read_stream, write_stream, read_stream_writer, write_stream_reader)
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            shutting_down = True
            with anyio.CancelScope(shield=True):
                await shutdown()
            tg.cancel_scope.cancel()
    await anyio.lowlevel.cancel_shielded_checkpoint()
