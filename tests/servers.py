"""The bundled MCP servers as processes of their own, over streamable HTTP on a free loopback port:
`start_http_server` (what conftest's `http_server` fixture starts) and the bank server with its
built-in OAuth authorization server (`start_oauth_bank`). Stop each with `stop_process`. `get` and
`post` talk to a served page's server (`closeboard serve`) as its page does."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import REPO, free_port, stop_process, wait_for_port


def start_http_server(
    module: str, data: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, str]:
    """`python -m MODULE --data DATA --http PORT ARGS` in a process group of its own, this process's
    environment plus `env`; (the process, "http://127.0.0.1:PORT") once it listens. The port is
    picked right before the server binds it: another one when it was taken meanwhile."""
    for attempt in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", module, "--data", str(data), "--http", str(port), *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, proc)
        except AssertionError:
            stop_process(proc)
            if proc.returncode is None or attempt == 2:
                raise
            continue
        return proc, f"http://127.0.0.1:{port}"
    raise AssertionError("unreachable")  # pragma: no cover


def start_oauth_bank(data: Path, **env: str) -> tuple[subprocess.Popen, str]:
    """The bundled bank server with `--oauth` (its built-in authorization server) and its test hooks
    (`/_test/counters`, `/_test/expire`, `/_test/revoke_refresh`); `env` configures it (e.g.
    CLOSEBOARD_OAUTH_CLIENT_ID for a pre-registered client)."""
    return start_http_server(
        "connectors.servers.bank", data, "--oauth", env={"CLOSEBOARD_OAUTH_TEST_HOOKS": "1", **env}
    )


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def post(url: str, headers: dict[str, str]) -> int:
    """POST `{}` as JSON with `headers`; the response's status (an error status included)."""
    request = urllib.request.Request(
        url, data=b"{}", method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
