"""OAuth for streamable-HTTP connectors (connectors/auth), against the bundled bank server with
`--oauth` (its built-in authorization server) on loopback, and closeboard's real connector code.

Covers the config's `auth:` block, the token file (0600 in 0700, atomic), sign-in through the
loopback listener, the two SDK gaps closeboard handles (no refresh after a restart: python-sdk
#3250; the requested scope replaced by what the server advertises), refresh-token rotation under the
file lock, the non-interactive failure, a pre-registered client without dynamic registration,
client credentials, bearer, status and logout with revocation."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import queue
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from connectors.adapters.base import Stream
from connectors.adapters.builtin import BankAdapter
from connectors.auth import RefreshUnavailable, SignInRequired, TokenStore, connection_auth
from connectors.auth import login as login_module
from connectors.auth.login import LoginError, login, logout, status
from connectors.client import AuthRequired, CallLog, ConnectorError, SourceSession
from connectors.config import ConfigError, parse_config
from tests.conftest import REPO, free_port, stop_process
from tests.servers import start_oauth_bank

CLIENT_ID, CLIENT_SECRET = "closeboard-test-client", "pre-registered-secret-9f1c2ab7"


# the pre-registered client's redirect URI: the server accepts it on any loopback port (RFC 8252 7.3), so
# each sign-in picks a free port right before its listener binds it (`redirect_uri()`)
REGISTERED_REDIRECT = "http://127.0.0.1:8976/callback"


def redirect_uri() -> str:
    return f"http://127.0.0.1:{free_port()}/callback"


@pytest.fixture(scope="module")
def server(demo_data: Path) -> Iterator[str]:
    """Dynamic registration on, plus one pre-registered client (authorization code and client credentials)."""
    proc, base = start_oauth_bank(
        demo_data,
        CLOSEBOARD_OAUTH_CLIENT_ID=CLIENT_ID,
        CLOSEBOARD_OAUTH_CLIENT_SECRET=CLIENT_SECRET,
        CLOSEBOARD_OAUTH_REDIRECT_URIS=REGISTERED_REDIRECT,
    )
    yield base
    stop_process(proc)


@pytest.fixture(scope="module")
def closed_server(demo_data: Path) -> Iterator[str]:
    """No registration endpoint: only the pre-registered client can sign in."""
    proc, base = start_oauth_bank(
        demo_data,
        CLOSEBOARD_OAUTH_REGISTRATION="0",
        CLOSEBOARD_OAUTH_CLIENT_ID=CLIENT_ID,
        CLOSEBOARD_OAUTH_CLIENT_SECRET=CLIENT_SECRET,
        CLOSEBOARD_OAUTH_REDIRECT_URIS=REGISTERED_REDIRECT,
    )
    yield base
    stop_process(proc)


def counters(base: str) -> dict[str, Any]:
    return httpx2.get(f"{base}/_test/counters").json()


def connector(base: str, auth: dict[str, Any] | None, name: str = "bank"):  # noqa: ANN201
    raw = {
        "company": {"name": "T", "currency": "USD", "first_period": "2024-06"},
        "connectors": {
            name: {
                "adapter": "builtin.bank",
                "server": {"url": f"{base}/mcp"},
                "allow_tools": ["list_bank_accounts"],
                "client": {"call_timeout_s": 30, "retries": 1, "backoff_s": 0.05},
                **({"auth": auth} if auth is not None else {}),
            }
        },
    }
    return parse_config(raw).connectors[name]


def oauth(**extra: Any) -> dict[str, Any]:
    return {"kind": "oauth", "redirect_uri": redirect_uri(), **extra}


class _PortTaken(Exception):
    pass


@dataclass
class SignIn:
    result: Any
    answers: list[int]
    lines: list[str]
    conn: Any  # the connector as signed in (its redirect URI: another port if the first was taken)


def sign_in(conn, home: Path, *, tamper_state: bool = False) -> SignIn:  # noqa: ANN001
    """`login()` with a person simulated (see `_sign_in_once`); when the listener cannot bind the
    redirect URI's port (taken since it was picked), again on another port."""
    for attempt in range(3):
        try:
            return _sign_in_once(conn, home, tamper_state=tamper_state)
        except _PortTaken:
            if attempt == 2:
                raise
            conn = replace(conn, auth=replace(conn.auth, redirect_uri=redirect_uri()))
    raise AssertionError("unreachable")  # pragma: no cover


def _sign_in_once(conn, home: Path, *, tamper_state: bool) -> SignIn:  # noqa: ANN001
    """`login()` with a person simulated: follow the printed address (the server consents at once)
    and send the browser to the loopback listener, first with a forged state when asked."""
    urls: queue.Queue[str] = queue.Queue()
    answers: list[int] = []

    def follow() -> None:
        try:
            url = urls.get(timeout=30)
        except queue.Empty:  # the sign-in failed before it printed an address
            return
        if not url:
            return
        location = httpx2.get(url).headers["location"]
        if tamper_state:
            forged = location.replace("state=", "state=forged")
            answers.append(httpx2.get(forged).status_code)
        answers.append(httpx2.get(location).status_code)

    threading.Thread(target=follow, daemon=True).start()
    lines: list[str] = []

    def out(line: str) -> None:
        if line.startswith("cannot listen on"):
            raise _PortTaken(line)  # before anything was sent: login() stops at once
        lines.append(line)
        for part in line.split("\n"):
            if part.startswith("http"):
                urls.put(part)

    try:
        result = anyio.run(lambda: login(conn, home, open_browser=False, out=out, timeout_s=30))
    finally:
        urls.put("")  # the follower stops if nothing was printed
    return SignIn(result, answers, lines, conn)


def pull(conn, home: Path) -> int:  # noqa: ANN001
    async def go() -> int:
        async with SourceSession(conn, home=home, pinning=False) as session:
            payload, _ = await session.call("list_bank_accounts", {})
            return len(payload["items"])

    return anyio.run(go)


def expire(base: str, home: Path, source: str = "bank") -> None:
    """The access token expires: the server stops accepting it and the client's clock has passed it."""
    httpx2.post(f"{base}/_test/expire")
    store = TokenStore(home, source)
    store.write(dict(store.read(), expires_at=time.time() - 1))


# -- configuration ------------------------------------------------------------------------------


def test_auth_block_is_checked_at_load() -> None:
    base = "http://127.0.0.1:1"
    assert connector(base, oauth(scopes=["bank:read"])).auth.scope == "bank:read"
    stdio = {
        "company": {"name": "T", "currency": "USD", "first_period": "2024-06"},
        "connectors": {
            "bank": {
                "adapter": "builtin.bank",
                "server": {"command": "python"},
                "allow_tools": ["list_bank_accounts"],
                "auth": {"kind": "bearer", "token": "${X}"},
            }
        },
    }
    with pytest.raises(ConfigError, match=r"connectors.bank.auth: only a streamable-HTTP connector"):
        parse_config(stdio)
    for bad, message in [
        ({"kind": "magic"}, "kind: one of"),
        ({"kind": "bearer"}, "needs `token"),
        ({"kind": "bearer", "token": "sk_live_inline"}, "never inline"),
        ({"kind": "bearer", "token": "sk_live_abc${X}"}, "never inline"),  # half a reference inlines the rest
        ({"kind": "bearer", "token": "${X}${Y}"}, "never inline"),
        ({"kind": "client_credentials", "client_id": "x", "client_secret": "${X}tail"}, "never inline"),
        ({"kind": "client_credentials", "client_id": "x"}, "needs client_id and client_secret"),
        ({"kind": "oauth", "redirect_uri": "https://example.com/cb"}, "loopback"),
        ({"kind": "oauth", "scope": "x"}, "unknown keys"),
    ]:
        with pytest.raises(ConfigError, match=message):
            connector(base, bad)


def test_bearer_sends_the_expanded_token_only_at_session_open(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conn = connector("http://127.0.0.1:1", {"kind": "bearer", "token": "${BANK_TOKEN_T}"})
    assert "${BANK_TOKEN_T}" in repr(conn) and "s3cret" not in repr(conn)
    monkeypatch.setenv("BANK_TOKEN_T", "s3cret")
    headers, auth = connection_auth(conn, tmp_path)
    assert headers == {"Authorization": "Bearer s3cret"} and auth is None
    assert "bearer, static token from ${BANK_TOKEN_T}" in status(conn, tmp_path).line()


# -- the SDK gaps (contract tests: they fail when mcp changes underneath) ---------------------------


def test_sdk_alone_forgets_expiry_and_metadata_after_a_restart(tmp_path: Path) -> None:
    """python-sdk #3250 in mcp 2.3: a fresh provider loads tokens and client, nothing else. If this test
    fails, the SDK restores them itself and closeboard's subclass can be simplified."""
    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import OAuthClientMetadata, OAuthMetadata, OAuthToken

    store = TokenStore(tmp_path, "bank")
    anyio.run(store.set_tokens, OAuthToken(access_token="a", refresh_token="r", expires_in=60))
    store.update(
        oauth_metadata=OAuthMetadata(
            issuer="http://127.0.0.1:1",
            authorization_endpoint="http://127.0.0.1:1/a",
            token_endpoint="http://127.0.0.1:1/t",
        ).model_dump(mode="json")
    )
    plain = OAuthClientProvider("http://127.0.0.1:1/mcp", OAuthClientMetadata(redirect_uris=None), store)
    anyio.run(plain._initialize)
    assert plain.context.current_tokens is not None
    assert plain.context.token_expiry_time is None and plain.context.oauth_metadata is None
    _, ours = connection_auth(connector("http://127.0.0.1:1", oauth()), tmp_path)
    anyio.run(ours._initialize)
    assert ours.context.token_expiry_time == pytest.approx(store.expires_at())
    assert str(ours.context.oauth_metadata.token_endpoint) == "http://127.0.0.1:1/t"


def test_sign_in_asks_only_the_configured_scopes_and_warns_about_write_scopes(server: str, tmp_path: Path) -> None:
    narrowed = sign_in(connector(server, oauth(scopes=["bank:read"])), tmp_path / "a").result
    assert counters(server)["requested_scopes"][-1] == "bank:read"
    assert narrowed.scopes == ("bank:read",) and not narrowed.write_scopes
    # without `scopes:` the SDK asks for everything the server advertises, write access included
    broad = sign_in(connector(server, oauth()), tmp_path / "b").result
    assert counters(server)["requested_scopes"][-1] == "bank:read bank:write"
    assert broad.write_scopes == ["bank:write"] and "warning: granted scopes include write access" in broad.line()


# -- the oauth lifecycle ------------------------------------------------------------------------------


def test_sign_in_then_reuse_refresh_rotation_and_lock(server: str, tmp_path: Path) -> None:
    conn = connector(server, oauth(scopes=["bank:read"]))
    home = tmp_path
    with pytest.raises(AuthRequired, match=r"run `closeboard auth login bank`"):
        pull(conn, home)  # never signed in: fails at once, nothing waits for a person
    before = counters(server)["counters"]
    signed = sign_in(conn, home, tamper_state=True)
    result, answers, lines, conn = signed.result, signed.answers, signed.lines, signed.conn
    assert answers == [400, 200]  # the forged state was refused, the real one accepted
    assert any("refused a callback: the state does not match" in line for line in lines)
    assert result.state == "signed in"
    token_file = home / "secrets" / "auth" / "bank.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(token_file.parent.stat().st_mode) == 0o700
    assert [p.name for p in token_file.parent.iterdir() if p.suffix == ".tmp"] == []
    stored = json.loads(token_file.read_text())
    assert stored["expires_at"] > time.time() and stored["oauth_metadata"]["token_endpoint"].startswith(server)

    after_login = counters(server)["counters"]
    assert after_login["authorize"] == before.get("authorize", 0) + 1
    assert pull(conn, home) == pull(conn, home) > 0  # two new sessions (as two runs would) reuse the token
    assert counters(server)["counters"]["authorize"] == after_login["authorize"]
    assert counters(server)["counters"].get("refresh", 0) == after_login.get("refresh", 0)

    expire(server, home)
    old_refresh = json.loads(token_file.read_text())["tokens"]["refresh_token"]
    assert pull(conn, home) > 0
    now = counters(server)["counters"]
    assert now.get("refresh", 0) == after_login.get("refresh", 0) + 1 and now["authorize"] == after_login["authorize"]
    assert json.loads(token_file.read_text())["tokens"]["refresh_token"] != old_refresh  # rotated

    # refused before its expiry by our clock (server restarted, revoked): one refresh, then on
    httpx2.post(f"{server}/_test/expire")
    assert pull(conn, home) > 0
    assert counters(server)["counters"]["refresh"] == now["refresh"] + 1

    # two runs at once after expiry: one refreshes under the lock, the other takes its token
    expire(server, home)
    script = (
        "import sys; from pathlib import Path; from tests.connectors.test_auth import connector, oauth, pull; "
        "print(pull(connector(sys.argv[1], oauth(scopes=['bank:read'], redirect_uri=sys.argv[3])), "
        "Path(sys.argv[2])))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, server, str(home), conn.auth.redirect_uri],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert counters(server)["counters"]["refresh"] == now["refresh"] + 2

    # a rejected refresh: the run fails with the login instruction, at once
    httpx2.post(f"{server}/_test/revoke_refresh")
    expire(server, home)
    with pytest.raises(AuthRequired, match=r"run `closeboard auth login bank`"):
        pull(conn, home)
    assert "not signed in" in status(conn, home).state


def test_an_outage_at_the_token_endpoint_keeps_the_sign_in(server: str, tmp_path: Path) -> None:
    """A refresh answered 5xx / 429 / any error but invalid_grant or invalid_client is transient: the run
    fails as a transient connector error (the step is worth retrying), the token file stays as it was,
    and the next run refreshes without a new sign-in."""
    home = tmp_path
    conn = sign_in(connector(server, oauth(scopes=["bank:read"])), home).conn
    token_file = home / "secrets" / "auth" / "bank.json"
    start = counters(server)["counters"]

    def fail_token(status: int, times: int, error: str = "temporarily_unavailable") -> None:
        httpx2.post(f"{server}/_test/fail_token", params={"status": status, "times": times, "error": error})

    for status_code, error in [(503, "temporarily_unavailable"), (429, "slow_down"), (400, "invalid_request")]:
        expire(server, home)
        before = token_file.read_bytes()
        failed = counters(server)["counters"].get("token_failed", 0)
        fail_token(status_code, 2, error)  # both attempts of the run (retries: 1)
        with pytest.raises(ConnectorError) as caught:
            pull(conn, home)
        assert not isinstance(caught.value, AuthRequired) and caught.value.transient, caught.value
        assert "auth login" not in str(caught.value)
        assert counters(server)["counters"]["token_failed"] == failed + 2
        assert token_file.read_bytes() == before  # the sign-in is kept, byte for byte
        assert status(conn, home).state.startswith("signed in")

    refreshed = counters(server)["counters"].get("refresh", 0)
    assert refreshed == start.get("refresh", 0)  # nothing was spent by the failures
    assert pull(conn, home) > 0  # the next run refreshes as if nothing happened
    assert counters(server)["counters"]["refresh"] == refreshed + 1

    # one failure within a run: its retry refreshes and the run succeeds
    expire(server, home)
    fail_token(502, 1)
    assert pull(conn, home) > 0
    now = counters(server)["counters"]
    assert now["refresh"] == refreshed + 2 and now["authorize"] == start["authorize"]


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_the_refresh_lock_is_released_when_the_refresh_request_fails(tmp_path: Path) -> None:
    """Sending the refresh fails (the authorization server is unreachable): the file lock is released
    at once, not when the garbage collector gets round to the abandoned refresh."""
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    conn = connector(dead, oauth())
    store = TokenStore(tmp_path, "bank")
    store.write(
        {
            "tokens": {"access_token": "at_old", "refresh_token": "rt_old", "token_type": "Bearer"},
            "expires_at": time.time() - 60,
            "client_info": {
                "client_id": "c1",
                "redirect_uris": [conn.auth.redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            },
            "oauth_metadata": {
                "issuer": dead,
                "authorization_endpoint": f"{dead}/authorize",
                "token_endpoint": f"{dead}/token",
            },
        }
    )
    before = store.path.read_bytes()
    _, provider = connection_auth(conn, tmp_path)

    async def go() -> None:
        async with httpx2.AsyncClient(auth=provider, timeout=10) as http:
            with pytest.raises(httpx2.ConnectError):
                await http.post(f"{dead}/mcp", json={})
            assert _lock_is_free(store.lock_path)  # no await in between: released by the failure itself

    anyio.run(go)
    assert store.path.read_bytes() == before


# -- the loopback listener ------------------------------------------------------------------------------


def _listen(redirect: str, state: str = "s-123"):  # noqa: ANN202
    results: queue.Queue[tuple[str, Any]] = queue.Queue()
    lines: list[str] = []
    listener = login_module._Listener(redirect, results, lines.append)  # noqa: SLF001
    listener.expected_state = state
    return listener, results, lines


def test_listener_is_not_held_up_by_an_idle_connection_and_escapes_what_it_echoes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(login_module, "CONNECTION_TIMEOUT_S", 0.5)
    redirect = redirect_uri()
    listener, results, lines = _listen(redirect)
    port = int(redirect.split(":")[2].split("/")[0])
    try:
        idle = socket.create_connection(("127.0.0.1", port))  # a local client that connects and sends nothing
        try:
            answer = httpx2.get(f"{redirect}?code=c-1&state=s-123", timeout=5)  # the browser's callback
            assert answer.status_code == 200
            assert results.get(timeout=5)[1].code == "c-1"
            idle.settimeout(10)
            assert idle.recv(1024) == b""  # the idle connection is dropped after the per-connection timeout
        finally:
            idle.close()
        error = httpx2.get(
            redirect,
            params={"error": "access_denied", "error_description": "<script>alert('x')</script>\x1b[2J"},
            timeout=5,
        )
        assert error.status_code == 400
        assert "<script>" not in error.text and "&lt;script&gt;" in error.text
        assert "\x1b" not in "".join(lines) and "access_denied" in "".join(lines)
        forged = httpx2.get(f"{redirect}?code=c-2&state=s-124", timeout=5)
        assert forged.status_code == 400 and results.empty()
    finally:
        listener.close()


def test_listener_binds_an_ipv6_loopback_redirect_uri() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    redirect = f"http://[::1]:{port}/callback"
    assert connector("http://127.0.0.1:1", oauth(redirect_uri=redirect)).auth.redirect_uri == redirect
    listener, results, _ = _listen(redirect)
    try:
        assert httpx2.get(f"{redirect}?code=c-6&state=s-123", timeout=5).status_code == 200
        assert results.get(timeout=5)[1].code == "c-6"
    finally:
        listener.close()


def test_logout_revokes_and_deletes(server: str, tmp_path: Path) -> None:
    conn = sign_in(connector(server, oauth(scopes=["bank:read"])), tmp_path).conn
    revoked = counters(server)["counters"].get("revoke", 0)
    notes = anyio.run(logout, conn, tmp_path)
    assert any("revoked at the authorization server" in n for n in notes)
    assert counters(server)["counters"]["revoke"] > revoked
    assert not (tmp_path / "secrets" / "auth" / "bank.json").exists()
    with pytest.raises(AuthRequired):
        pull(conn, tmp_path)


def test_environment_refresh_token_signs_a_ci_run_in(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = sign_in(connector(server, oauth(scopes=["bank:read"])), tmp_path / "laptop").conn
    refresh_token = json.loads((tmp_path / "laptop/secrets/auth/bank.json").read_text())["tokens"]["refresh_token"]
    client = json.loads((tmp_path / "laptop/secrets/auth/bank.json").read_text())["client_info"]
    ci = tmp_path / "ci"
    TokenStore(ci, "bank").write({"client_info": client})  # the registration travels, the token comes from env
    monkeypatch.setenv("CLOSEBOARD_BANK_REFRESH_TOKEN", refresh_token)
    assert pull(conn, ci) > 0


# -- pre-registered clients, client credentials -----------------------------------------------------


def test_pre_registered_client_without_registration_endpoint(
    closed_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANK_CLIENT_SECRET_T", CLIENT_SECRET)
    dynamic = connector(closed_server, oauth())
    with pytest.raises(LoginError):
        sign_in(dynamic, tmp_path / "dynamic")  # nothing to register with
    conn = connector(
        closed_server, oauth(client_id=CLIENT_ID, client_secret="${BANK_CLIENT_SECRET_T}", scopes=["bank:read"])
    )
    signed = sign_in(conn, tmp_path)
    result, conn = signed.result, signed.conn
    assert result.state == "signed in" and CLIENT_ID in (result.account or "")
    stored = (tmp_path / "secrets" / "auth" / "bank.json").read_text()
    assert CLIENT_SECRET not in stored  # a configured secret is read from ${ENV} each time, never stored
    assert pull(conn, tmp_path) > 0
    assert counters(closed_server)["counters"].get("register", 0) == 0


def test_client_credentials_source_loads_without_a_person(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BANK_CLIENT_SECRET_T", CLIENT_SECRET)
    conn = connector(
        server,
        {
            "kind": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": "${BANK_CLIENT_SECRET_T}",
            "scopes": ["bank:read"],
        },
    )
    before = counters(server)["counters"].get("client_credentials", 0)
    assert pull(conn, tmp_path) > 0
    assert pull(conn, tmp_path) > 0  # the stored token is reused
    assert counters(server)["counters"]["client_credentials"] == before + 1
    assert status(conn, tmp_path).scopes == ("bank:read",)
    monkeypatch.setenv("BANK_CLIENT_SECRET_T", "wrong")
    with pytest.raises(Exception, match="bank"):
        pull(conn, tmp_path / "other")


# -- a failure inside an open session ---------------------------------------------------------------
# The mcp SDK runs the HTTP transport in a task group: a refresh that fails in the middle of a session
# (raised in the transport's task) cancels the task calling the tool. That must surface as the
# ConnectorError it is (transient, or the sign-in instruction), never as a bare CancelledError.


TRANSACTIONS = Stream("bank_transactions", "list_transactions")  # paged the way pull_source pages it


def paged_connector(base: str, redirect: str):  # noqa: ANN201
    raw = {
        "company": {"name": "T", "currency": "USD", "first_period": "2024-06"},
        "connectors": {
            "bank": {
                "adapter": "builtin.bank",
                "server": {"url": f"{base}/mcp"},
                "allow_tools": ["list_transactions"],
                "auth": {"kind": "oauth", "redirect_uri": redirect, "scopes": ["bank:read"]},
                "client": {"call_timeout_s": 30, "retries": 1, "backoff_s": 0.05, "page_limit": 500},
            }
        },
    }
    return parse_config(raw).connectors["bank"]


def pull_pages(conn, home: Path, between: Any = None, log: CallLog | None = None) -> list[dict[str, Any]]:  # noqa: ANN001
    """Every transaction through one session; `between(number)` runs (in a thread) after each page,
    before the next one is asked for."""

    async def go() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        async with SourceSession(conn, home=home, log=log, pinning=False) as session:
            async for page in BankAdapter().pages(session, TRANSACTIONS):
                rows.extend(page.items)
                if between is not None:
                    await anyio.to_thread.run_sync(between, page.number)
        return rows

    return anyio.run(go)


@pytest.fixture
def signed_in(server: str, tmp_path: Path):  # noqa: ANN201
    """A signed-in paged connector, its home and the transactions a clean pull reads (several pages)."""
    conn = sign_in(connector(server, oauth(scopes=["bank:read"])), tmp_path).conn
    paged = paged_connector(server, conn.auth.redirect_uri)
    log = CallLog()
    rows = pull_pages(paged, tmp_path, log=log)
    assert len(log.records) >= 3, "the demo bank's transactions should span several pages"
    return paged, tmp_path, rows


def expire_after_first_page(base: str, *hooks: tuple[str, dict[str, Any]]) -> Any:
    """After page 1: the server stops accepting the access token (the client's clock still trusts it,
    as when it runs out during a long pull) and the given test hooks run."""

    def between(number: int) -> None:
        if number == 1:
            httpx2.post(f"{base}/_test/expire")
            for path, params in hooks:
                httpx2.post(f"{base}/_test/{path}", params=params)

    return between


def test_a_refresh_outage_in_the_middle_of_a_session_is_transient(server: str, signed_in: Any) -> None:
    conn, home, _ = signed_in
    token_file = home / "secrets" / "auth" / "bank.json"
    before, start = token_file.read_bytes(), counters(server)["counters"]
    log = CallLog()
    with pytest.raises(ConnectorError) as caught:  # not a CancelledError
        pull_pages(conn, home, expire_after_first_page(server, ("fail_token", {"status": 503, "times": 2})), log)
    error = caught.value
    assert not isinstance(error, AuthRequired) and error.transient and error.tool == "list_transactions", error
    assert "refreshing the access token failed (HTTP 503" in str(error) and "gave up after 2 attempts" in str(error)
    assert "auth login" not in str(error)
    now = counters(server)["counters"]
    assert now["token_failed"] == start.get("token_failed", 0) + 2  # the session's refresh, then the retry's
    assert now.get("refresh", 0) == start.get("refresh", 0)
    assert token_file.read_bytes() == before  # the sign-in is kept, byte for byte
    assert [r.status for r in log.records] == ["ok", "error", "error"]
    assert "refreshing the access token failed" in (log.records[1].error or "")


def test_a_refresh_rejected_in_the_middle_of_a_session_asks_for_a_sign_in(server: str, signed_in: Any) -> None:
    conn, home, _ = signed_in
    with pytest.raises(
        AuthRequired,
        match=r"source 'bank', tool 'list_transactions': .*"
        r"run `closeboard auth login bank`",
    ) as caught:
        pull_pages(conn, home, expire_after_first_page(server, ("revoke_refresh", {})))
    assert not caught.value.transient
    assert "not signed in" in status(conn, home).state  # the spent refresh token was dropped


def test_a_refresh_that_fails_once_in_the_middle_of_a_session_is_retried(server: str, signed_in: Any) -> None:
    conn, home, rows = signed_in
    start = counters(server)["counters"]
    log = CallLog()
    again = pull_pages(conn, home, expire_after_first_page(server, ("fail_token", {"status": 503, "times": 1})), log)
    assert again == rows  # every row arrived, each once: the retry resumed from page 2's cursor
    now = counters(server)["counters"]
    assert now["token_failed"] == start.get("token_failed", 0) + 1 and now["refresh"] == start.get("refresh", 0) + 1
    assert [r.page for r in log.records if r.status == "error"] == [2]


def test_a_pull_cancelled_from_outside_stays_cancelled(signed_in: Any) -> None:
    """A genuine cancellation (a cancel scope around the pull) is never turned into a connector error,
    whether it reaches a call in flight or the code between two calls."""
    conn, home, rows = signed_in
    for where in ("in a call", "between calls"):
        seen: list[dict[str, Any]] = []
        log = CallLog()

        async def go(log: CallLog = log, seen: list[dict[str, Any]] = seen, where: str = where) -> bool:
            with anyio.CancelScope() as scope:
                async with SourceSession(conn, home=home, log=log, pinning=False) as session:
                    async for page in BankAdapter().pages(session, TRANSACTIONS):
                        seen.extend(page.items)
                        if page.number == 2:
                            scope.cancel()  # the next checkpoint raises: in the next call or right here
                            if where == "between calls":
                                await anyio.sleep(0)
            return scope.cancelled_caught

        assert anyio.run(go) is True, where
        assert seen == rows[: len(seen)] and 0 < len(seen) < len(rows), where
        assert len(log.records) == (3 if where == "in a call" else 2), where


def _sdk_task_group(session: SourceSession, fail: BaseException, *, on_cancel: bool = False) -> Any:
    """Stand in for the SDK's transport in an open session: a task group, held in the session's exit stack
    as `open()` holds the SDK's, whose task fails with `fail` (at once, or only when it is cancelled, as a
    transport failing its own shutdown)."""

    async def enter() -> None:
        stack = AsyncExitStack()
        group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(group.cancel_scope.cancel)  # the SDK's client stops its tasks when it is closed

        async def transport() -> None:
            if on_cancel:
                try:
                    await anyio.sleep_forever()
                finally:
                    raise fail
            await anyio.lowlevel.checkpoint()
            raise fail

        group.start_soon(transport)
        session._stack = stack  # noqa: SLF001 - where open() keeps the SDK client's context

    return enter


@pytest.mark.parametrize(
    "fail, expected, message",
    [
        (
            RefreshUnavailable("bank", "HTTP 503"),
            ConnectorError,
            r"source 'bank', tool '\(session\)': the session failed: "
            r".*refreshing the access token failed \(HTTP 503\)",
        ),
        (
            SignInRequired("bank"),
            AuthRequired,
            r"source 'bank', tool '\(session\)': .*run `closeboard auth login bank`",
        ),
    ],
)
def test_a_session_failure_between_calls_surfaces_when_the_session_closes(
    tmp_path: Path, fail: Exception, expected: type, message: str
) -> None:
    """The session's task group fails while the pull does its own work between two calls: leaving the
    session turns the cancellation it sent into the connector error, not a bare CancelledError."""

    async def go() -> None:
        async with SourceSession(
            paged_connector("http://127.0.0.1:1", redirect_uri()), home=tmp_path, pinning=False
        ) as session:
            await _sdk_task_group(session, fail)()
            await anyio.sleep_forever()  # cancelled by the failing task

    with pytest.raises(expected, match=message) as caught:
        anyio.run(go)
    assert caught.value.transient is (expected is ConnectorError)


def test_an_outside_cancel_wins_over_a_session_failing_its_shutdown(tmp_path: Path) -> None:
    """Cancelled from outside (a cancel scope; asyncio's Task.cancel as Ctrl-C in anyio.run does) while the
    session's transport fails its own shutdown: the cancellation goes on, it is not turned into an error."""
    conn = paged_connector("http://127.0.0.1:1", redirect_uri())

    async def scoped() -> bool:
        with anyio.CancelScope() as scope:
            async with SourceSession(conn, home=tmp_path, pinning=False) as session:
                await _sdk_task_group(session, RuntimeError("shutdown failed"), on_cancel=True)()
                scope.cancel()
                await anyio.sleep_forever()
        return scope.cancelled_caught

    assert anyio.run(scoped) is True

    async def native() -> None:
        task = asyncio.current_task()
        assert task is not None
        async with SourceSession(conn, home=tmp_path, pinning=False) as session:
            await _sdk_task_group(session, RuntimeError("shutdown failed"), on_cancel=True)()
            asyncio.get_running_loop().call_soon(task.cancel)
            await anyio.sleep_forever()

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(native())
