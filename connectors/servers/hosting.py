"""Serving a bundled server: ``new_server``, the data root default, the bearer-token guard and
``serve(build, argv)``: ``--data DIR``, ``--http PORT``, ``--host``, ``--token-env NAME`` (the last three
``add_http_args``, shared with servers that parse their own command line); stdio by default, else streamable HTTP answering plain JSON (``json_response=True``) at ``/mcp``."""

from __future__ import annotations

import argparse
import contextlib
import hmac
import importlib.abc
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mcp.server.mcpserver import MCPServer

from connectors.plain import exit_without_teardown
from connectors.servers.specs import SourceError

# --------------------------------------------------------------------------------------------- serving


def new_server(name: str, *, title: str, instructions: str) -> MCPServer:
    """An ``MCPServer`` that leaves the host's logging alone.

    ``MCPServer.__init__`` calls ``logging.basicConfig`` (a rich handler on the root logger); in a
    process that builds a server in memory (tests, the pipeline) that would capture the root logger
    before the host configures it, so the root logger's handlers and level are put back.
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer(name, title=title, instructions=instructions, log_level="WARNING")
    root.handlers[:] = handlers
    root.setLevel(level)
    return server


_WARM_UP: weakref.WeakKeyDictionary[MCPServer, tuple[Callable[[], None], tuple[Callable[[], object], ...]]] = (
    weakref.WeakKeyDictionary()
)


def warm_up(server: MCPServer, load: Callable[[], None], *answers: Callable[[], object]) -> MCPServer:
    """Have `server`, served as a process (`serve`), run `load` on a thread as it starts, then compute
    `answers` (its answers to the calls a refresh makes first, which its source caches), so its files
    are read and those answers ready before its first call rather than at it: a server started ahead
    of its session (connectors/prestart.py) then answers at once. An answer that fails is left for its
    call to report. Built in memory, nothing changes."""
    _WARM_UP[server] = (load, answers)
    return server


def start_warm_up(server: MCPServer) -> threading.Thread | None:
    """Run `server`'s warm-up (`warm_up`) on a thread of its own; None when it has none."""
    if server not in _WARM_UP:
        return None
    load, answers = _WARM_UP[server]

    def run() -> None:
        load()
        for answer in answers:
            with contextlib.suppress(SourceError):  # e.g. a file that cannot be read: its call reports it
                answer()

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread


def default_data_dir() -> Path:
    """``CLOSEBOARD_DATA``, else ``$CLOSEBOARD_HOME/demo`` (home defaults to ./var)."""
    explicit = os.environ.get("CLOSEBOARD_DATA")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("CLOSEBOARD_HOME") or "var") / "demo"


class BearerGuard:
    """ASGI wrapper: every HTTP request must carry ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error":"unauthorized"}'})
                return
        await self.app(scope, receive, send)


async def serve_http(server: MCPServer, host: str, port: int, token: str | None = None, oauth: bool = False) -> None:
    import uvicorn

    app: Any = server.streamable_http_app(json_response=True, host=host)
    if oauth:  # behind the built-in authorization server (connectors/servers/oauth.py)
        from connectors.servers.oauth import oauth_app

        app, _ = oauth_app(server, host, port)
    if token:
        app = BearerGuard(app, token)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    print(f"{server.name}: serving streamable HTTP at http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    await uvicorn.Server(config).serve()


def add_http_args(parser: argparse.ArgumentParser) -> None:
    """The options every bundled server's command line takes for streamable HTTP: ``--http PORT``,
    ``--host`` and ``--token-env NAME`` (read back with ``token_from_env``)."""
    parser.add_argument("--http", type=int, default=None, metavar="PORT", help="serve streamable HTTP on PORT at /mcp")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    parser.add_argument(
        "--token-env",
        default=None,
        metavar="NAME",
        help="over HTTP, require 'Authorization: Bearer <token>' with the token read from env var NAME",
    )


def token_from_env(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The bearer token ``--token-env NAME`` names (None without the option); a usage error when NAME is
    not set, so the server never starts unguarded by mistake."""
    if not args.token_env:
        return None
    token = os.environ.get(args.token_env)
    if not token:
        parser.error(f"--token-env {args.token_env}: the environment variable is not set")
    return token


class _WithoutPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname == "pandas":
            raise ModuleNotFoundError("closeboard's bundled servers do not use pandas", name=fullname)


def without_pandas() -> None:
    """Make pandas unimportable in this (server) process. A bundled server never uses pandas, but
    pyarrow imports it at its first conversion of a Python value, to see whether the value is a
    pandas one: 0.2 s of CPU in every server's first answer. Known missing, it is not looked for."""
    if "pandas" not in sys.modules and not any(isinstance(f, _WithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _WithoutPandas())


def serve(
    build: Callable[..., MCPServer], argv: Sequence[str] | None = None, *, prog: str, cache: bool = False
) -> NoReturn:
    """Command line of a bundled server: stdio by default, streamable HTTP with ``--http PORT``; with
    `cache`, ``--cache DIR`` too, given to ``build(data_dir, cache=DIR)`` (connectors/servers/parsed.py)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve closeboard data files as a read-only MCP server (stdio unless --http).",
        epilog=f"Example: {prog} --data var/demo --http 9101",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="data root holding company.json and the CSV files "
        "(default: $CLOSEBOARD_DATA, else $CLOSEBOARD_HOME/demo, else ./var/demo)",
    )
    if cache:
        parser.add_argument(
            "--cache",
            type=Path,
            default=None,
            metavar="DIR",
            help="keep the parsed files here from one start to the next: an unchanged file is not parsed "
            "again, a file that only grew has only its new lines parsed (default: parse every start)",
        )
    add_http_args(parser)
    parser.add_argument(
        "--oauth",
        action="store_true",
        help="over HTTP, require OAuth from a small built-in authorization server that consents automatically "
        "(try `closeboard auth login`; settings in connectors/servers/oauth.py)",
    )
    args = parser.parse_args(argv)
    data_dir = (args.data or default_data_dir()).expanduser().resolve()
    if not data_dir.is_dir():
        parser.error(f"data directory not found: {data_dir}")
    token = token_from_env(parser, args)
    without_pandas()
    server = build(data_dir, cache=args.cache) if cache else build(data_dir)
    warming = start_warm_up(server)
    if args.http is None:
        server.run("stdio")
    else:
        import anyio

        anyio.run(serve_http, server, args.host, args.http, token, args.oauth)
    if warming is not None:
        # served and done while the files may still be being read (a run that failed first, a server
        # started ahead for nothing): the reading ends first, then the process (a client that will not
        # wait stops it, as it would any server slow to exit)
        warming.join()
    exit_without_teardown(0)  # a client waits for a stdio server to exit when it closes the session
