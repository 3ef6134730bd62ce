"""``closeboard auth login | status | logout``: the only places a person signs in.

Login opens the browser (or, with ``--no-browser`` / no browser on the machine, prints the URL and
accepts the pasted redirect URL) and receives the code on a one-shot listener at the connector's
loopback ``redirect_uri``. A response whose ``state`` does not match this sign-in is refused.
Nothing here ever prints a token or a secret.
"""

from __future__ import annotations

import hmac
import html
import logging
import queue
import socket
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult

from connectors.auth import connection_auth, exception_chain, resolve_home, sign_in_failure
from connectors.auth.provider import write_scopes
from connectors.auth.store import TokenStore
from connectors.config import ConnectorConfig, expand


class LoginError(RuntimeError):
    """Signing in did not complete; the message says why (never a secret)."""


@dataclass
class AuthStatus:
    source: str
    kind: str
    state: str
    account: str | None = None
    scopes: tuple[str, ...] = ()
    expires_at: float | None = None

    @property
    def write_scopes(self) -> list[str]:
        return write_scopes(self.scopes)

    def line(self) -> str:
        parts = [f"{self.source}: {self.kind}, {self.state}"]
        if self.account:
            parts.append(f"account {self.account}")
        if self.scopes:
            parts.append("scopes " + " ".join(self.scopes))
        if self.expires_at is not None:
            when = datetime.fromtimestamp(self.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            parts.append(f"access token {'expired' if self.expires_at < time.time() else 'expires'} {when}")
        text = "; ".join(parts)
        if self.write_scopes:
            text += (
                f"\n  warning: granted scopes include write access ({' '.join(self.write_scopes)}); closeboard "
                "only reads: narrow `auth.scopes` in closeboard.yaml and sign in again"
            )
        return text


def status(connector: ConnectorConfig, home: Path | None) -> AuthStatus:
    auth = connector.auth
    if auth is None:
        kind = (
            "stdio (server env)"
            if not connector.server.url
            else "none (static headers)"
            if connector.server.headers
            else "none"
        )
        return AuthStatus(connector.name, kind, "no sign-in")
    if auth.kind == "bearer":
        return AuthStatus(connector.name, "bearer", f"static token from {auth.token}")
    data = TokenStore(resolve_home(home), connector.name).read()
    tokens = data.get("tokens") or {}
    issuer = (data.get("oauth_metadata") or {}).get("issuer") or data.get("auth_server_url")
    client_id = auth.client_id or (data.get("client_info") or {}).get("client_id")
    account = " ".join(
        p for p in (f"issuer {issuer}" if issuer else "", f"client {client_id}" if client_id else "") if p
    )
    expires_at = data.get("expires_at")
    if not tokens:
        state = "not signed in" + (f": run `closeboard auth login {connector.name}`" if auth.kind == "oauth" else "")
    elif expires_at is not None and expires_at < time.time():
        state = (
            "signed in, access token expired (a run refreshes it)"
            if tokens.get("refresh_token")
            else "access token expired"
            + (
                " (a run fetches a new one)"
                if auth.kind == "client_credentials"
                else f": run `closeboard auth login {connector.name}`"
            )
        )
    else:
        state = "signed in"
    return AuthStatus(
        connector.name,
        auth.kind + (" (pre-registered client)" if auth.client_id and auth.kind == "oauth" else ""),
        state,
        account or None,
        tuple(data.get("granted_scopes") or ()),
        expires_at,
    )


# -- login -----------------------------------------------------------------------------------------


class _LoopbackServer(ThreadingHTTPServer):
    """A request per daemon thread, so a local client that connects and sends nothing (or dribbles)
    cannot hold up the browser's real callback; IPv6 when the redirect URI's host is ``[::1]``."""

    daemon_threads = True

    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), handler)


# seconds a connection to the listener may take to send its request line and headers
CONNECTION_TIMEOUT_S = 10.0


class _Listener:
    """One-shot loopback HTTP listener on the redirect URI: the first request carrying this sign-in's
    ``state`` wins; a wrong state is answered 400 and refused."""

    def __init__(self, redirect_uri: str, results: queue.Queue[tuple[str, Any]], out: Callable[[str], None]):
        parsed = urlparse(redirect_uri)
        self.path = parsed.path or "/"
        self.expected_state: str | None = None
        listener = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CONNECTION_TIMEOUT_S  # StreamRequestHandler sets it on the connection's socket

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                if url.path != listener.path:
                    self._answer(404, "Not the sign-in callback.")
                    return
                try:
                    code, state = _code_and_state(self.path, listener.expected_state)
                except LoginError as exc:
                    out(f"refused a callback: {exc}")
                    self._answer(400, f"Refused: {exc}")
                    return
                self._answer(200, "Signed in to closeboard. You can close this tab.")
                results.put(("code", AuthorizationCodeResult(code=code, state=state)))

            def _answer(self, status: int, text: str) -> None:
                body = f"<!doctype html><title>closeboard</title><p>{html.escape(text)}</p>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # the request line carries the code: never logged
                pass

        self.server = _LoopbackServer(parsed.hostname or "127.0.0.1", parsed.port or 80, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _printable(text: str, limit: int = 200) -> str:
    return "".join(c for c in text if c.isprintable())[:limit]


def _code_and_state(url: str, expected_state: str | None) -> tuple[str, str]:
    query = parse_qs(urlparse(url.strip()).query)
    if "error" in query:  # shown in the terminal and (escaped) on the page: printable text only
        raise LoginError(
            f"the authorization server answered {_printable(query['error'][0])}"
            + (f": {_printable(query['error_description'][0])}" if "error_description" in query else "")
        )
    state = (query.get("state") or [""])[0]
    if expected_state is None or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise LoginError("the state does not match this sign-in (a stale or forged redirect)")
    code = (query.get("code") or [""])[0]
    if not code:
        raise LoginError("the redirect URL carries no code")
    return code, state


def _read_pasted(results: queue.Queue[tuple[str, Any]]) -> None:
    try:
        for line in sys.stdin:
            if line.strip():
                results.put(("pasted", line.strip()))
                return
    except (OSError, ValueError):
        return


async def login(
    connector: ConnectorConfig,
    home: Path | None,
    *,
    open_browser: bool = True,
    out: Callable[[str], None] = print,
    timeout_s: float = 300.0,
) -> AuthStatus:
    """Sign `connector` in (oauth: a person consents; client_credentials: fetch a token) and return
    its status. Raises LoginError."""
    auth = connector.auth
    if auth is None or auth.kind == "bearer":
        raise LoginError(
            f"source {connector.name!r} has no `auth: {{kind: oauth | client_credentials}}` block: "
            "nothing to sign in to"
        )
    results: queue.Queue[tuple[str, Any]] = queue.Queue()
    listener: _Listener | None = None
    if auth.kind == "oauth":
        try:
            listener = _Listener(auth.redirect_uri, results, out)
        except OSError as exc:
            out(f"cannot listen on {auth.redirect_uri} ({exc.strerror or exc}); paste the redirect URL instead")
    expected: dict[str, str] = {}

    async def redirect(url: str) -> None:
        state = (parse_qs(urlparse(url).query).get("state") or [""])[0]
        expected["state"] = state
        if listener is not None:
            listener.expected_state = state
        out(f"Sign in to {connector.name} at:\n{url}")
        opened = False
        if open_browser:
            try:
                opened = webbrowser.open(url)
            except webbrowser.Error:
                opened = False
        if not opened:
            out(
                "Open that address in a browser; after consenting, paste the address you are sent to "
                f"(it starts with {auth.redirect_uri}) here and press Enter:"
            )
        else:
            out("Waiting for the browser (or paste the address you are sent to here)...")
        threading.Thread(target=_read_pasted, args=(results,), daemon=True).start()

    async def callback() -> AuthorizationCodeResult:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                kind, value = results.get_nowait()
            except queue.Empty:
                await anyio.sleep(0.05)
                continue
            if kind == "code":
                return value
            code, state = _code_and_state(value, expected.get("state"))  # LoginError on a wrong state
            return AuthorizationCodeResult(code=code, state=state)
        raise LoginError(f"no sign-in within {int(timeout_s)} s")

    _, provider = connection_auth(
        connector, home, interactive=True, redirect_handler=redirect, callback_handler=callback
    )
    url = expand(str(connector.server.url), source=connector.name)
    failure: BaseException | None = None
    sdk_log = logging.getLogger("mcp.client.auth.oauth2")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # its "OAuth flow error" traceback: the reason is reported below
    try:
        async with httpx2.AsyncClient(auth=provider, timeout=connector.client.call_timeout_s) as http:
            transport = streamable_http_client(url, http_client=http, max_sse_event_size=None)
            async with Client(transport, read_timeout_seconds=timeout_s + 30) as client:
                await client.list_tools()
    except Exception as exc:  # noqa: BLE001 - reported below without secrets
        failure = exc
    finally:
        sdk_log.setLevel(level)
        if listener is not None:
            listener.close()
    if failure is not None:
        raise LoginError(_reason(failure) or sign_in_failure(provider, failure) or _describe(failure)) from None
    result = status(connector, home)
    if result.state != "signed in":
        raise LoginError(f"signing in to {connector.name} did not produce a token ({result.state})")
    return result


def _reason(exc: BaseException) -> str | None:
    """The LoginError (or OAuth error) somewhere inside `exc`."""
    from mcp.client.auth import OAuthFlowError, OAuthTokenError

    for current in exception_chain(exc):
        if isinstance(current, LoginError):
            return str(current)
        if isinstance(current, OAuthFlowError | OAuthTokenError):
            return f"sign-in failed: {type(current).__name__}: {str(current).split(':')[0]}"
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


# -- logout ----------------------------------------------------------------------------------------


async def logout(connector: ConnectorConfig, home: Path | None) -> list[str]:
    """Revoke the stored tokens where the server offers revocation (RFC 7009), then delete them."""
    store = TokenStore(resolve_home(home), connector.name)
    data = store.read()
    if not data:
        return [f"{connector.name}: no stored sign-in"]
    notes: list[str] = []
    tokens = data.get("tokens") or {}
    endpoint = (data.get("oauth_metadata") or {}).get("revocation_endpoint")
    client = data.get("client_info") or {}
    if tokens and endpoint:
        form: dict[str, str] = {
            "client_id": str(client.get("client_id") or (connector.auth and connector.auth.client_id) or "")
        }
        secret = client.get("client_secret")
        if not secret and connector.auth is not None and connector.auth.client_secret:
            from connectors.auth import _secret

            try:
                secret = _secret(connector, connector.auth.client_secret)
            except Exception:  # noqa: BLE001 - an unset ${ENV} only means we cannot authenticate the revocation
                secret = None
        if secret:
            form["client_secret"] = secret
        revoked = 0
        async with httpx2.AsyncClient(timeout=30) as http:
            for hint in ("refresh_token", "access_token"):
                if tokens.get(hint):
                    try:
                        response = await http.post(
                            endpoint, data={**form, "token": tokens[hint], "token_type_hint": hint}
                        )
                        revoked += response.status_code == 200
                    except httpx2.HTTPError as exc:
                        notes.append(f"{connector.name}: revocation failed ({type(exc).__name__})")
        if revoked:
            notes.append(f"{connector.name}: revoked at the authorization server")
    elif tokens:
        notes.append(f"{connector.name}: the server offers no revocation endpoint; tokens deleted locally only")
    store.delete()
    notes.append(f"{connector.name}: stored sign-in deleted ({store.path})")
    return notes
