"""What the vendor stand-ins (``tests/vendors/<vendor>/standin.py``) and the tests that run each vendor's
own MCP server against them (``tests/connectors/test_adapters_<vendor>_server.py``) share:

- ``npm_entry``, ``REDIRECT`` and ``node_server``: a vendor's npm server as the suite installs it, and the
  ``server`` config that runs it on the suite's Node with ``redirect.cjs`` preloaded, its outbound
  HTTP(S) sent to a stand-in;
- ``memory_warehouse``: an in-memory warehouse with the schema and the ``connect`` to ingest into it;
- ``pull_error``: the ``ConnectorError`` a source's pull must fail with;
- ``LocalServer`` / ``HTTPStandIn`` / ``send``: a stand-in's threaded server on 127.0.0.1 at a free
  port. Each stand-in keeps its own routing and wire format (its vendor's published API).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any, Self

import anyio
import duckdb
import pytest

from connectors.adapters import adapter_for
from connectors.client import CallLog, ConnectorError, SourceSession
from connectors.config import ConnectorConfig
from connectors.pull import pull_source
from tests.conformance import bin_dir, ensure, package_dir
from warehouse.db import ensure_schema

REDIRECT = Path(__file__).resolve().parent / "redirect.cjs"

Reply = tuple[int, Mapping[str, str], bytes]  # status, headers, body


# --- the tests' side ------------------------------------------------------------------------------
def npm_entry(package: str, version: str | None = None) -> Path:
    """``dist/index.js`` of the npm ``package`` the suite installs (skips the test when it cannot be
    installed); with ``version``, asserts that is the version installed."""
    ensure()
    entry = package_dir(package) / "dist" / "index.js"
    if version is not None:
        assert json.loads((entry.parent.parent / "package.json").read_text())["version"] == version
    return entry


def node_server(entry: Path, *args: str, redirect: Mapping[str, str], env: Mapping[str, str]) -> dict[str, Any]:
    """The ``server`` config running the npm server ``entry`` (with ``args``) on the suite's Node, with
    ``redirect.cjs`` sending its requests for each host in ``redirect`` to that stand-in URL."""
    return {
        "command": str(bin_dir() / "node"),
        "args": ["--require", str(REDIRECT), str(entry), *args],
        "env": {**env, "CLOSEBOARD_REDIRECT": json.dumps(dict(redirect))},
    }


def memory_warehouse() -> tuple[
    duckdb.DuckDBPyConnection, Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]
]:
    """An in-memory warehouse with the schema, and the ``connect`` that ``ingest_source`` opens it by
    (the same connection every time, left open: the caller reads it and closes it, e.g. ``with con:``)."""
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect() -> Iterator[duckdb.DuckDBPyConnection]:
        yield con

    return con, connect


def pull_error(source: ConnectorConfig) -> ConnectorError:
    """The ``ConnectorError`` that pulling ``source`` through a fresh session fails with (rows dropped);
    the test fails if the pull succeeds."""

    async def go() -> None:
        async with SourceSession(source, log=CallLog()) as session:
            await pull_source(session, adapter_for(source), lambda table, batch: None)

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    return info.value


# --- the stand-ins' side --------------------------------------------------------------------------
class LocalServer:
    """Base of a stand-in serving ``server`` (bound to 127.0.0.1, port 0) from a daemon thread:
    ``with StandIn(...) as s: s.url``."""

    def __init__(self, server: TCPServer, name: str) -> None:
        self._http = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=10)


def send(handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Write one whole response: the status line, ``headers``, Content-Length, ``body``."""
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class HTTPStandIn(LocalServer):
    """A stand-in answering HTTP/1.1 GET and POST (what ``redirect.cjs`` sends it) on a threaded server.

    A subclass answers either in ``answer(method, target, headers, body) -> (status, JSON value)``, sent
    as ``content_type`` with ``encode``, or for other wire formats in ``respond`` -> (status, headers, body).
    """

    content_type = "application/json"

    def __init__(self, name: str) -> None:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.standin = self
        super().__init__(server, name)

    def answer(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def encode(self, value: Any) -> bytes:
        return json.dumps(value).encode()

    def respond(self, method: str, target: str, headers: Any, body: bytes) -> Reply:
        status, value = self.answer(method, target, headers, body)
        return status, {"Content-Type": self.content_type}, self.encode(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    standin: HTTPStandIn


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        send(self, *self.server.standin.respond(self.command, self.path, self.headers, body))

    do_GET = do_POST = _serve  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass
