"""The MCP client closeboard reads every source through.

One session per source per run (starting a stdio server costs ~0.8 s). Every call goes through
the source's allow-list, has a timeout, is retried with backoff when the failure is transient
(a timeout, a dropped connection, a server that died: the session is reopened and the call
resumed from the same cursor), is capped in size, and is written to the call log that becomes
`connector_calls`. Errors name the source, the tool and the cause.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from connectors.audit import (
    MIN_SECRET_CHARS,
    CallLog,
    CallRecord,
    RedactedCause,
    printable,
    redact,
    register_secret,
    scrub,
)
from connectors.config import ConnectorConfig, expand
from connectors.payloads import (
    _SIZE_ENCODER,
    Decoder,
    check_size,
    parse_payload,
    reported_error,
    result_holds_secret,
)
from connectors.stdio import stdio_client

if TYPE_CHECKING:
    from connectors.prestart import ServerPool

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # as connectors.config reads ${NAME}

_PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}
# A stdio server inherits only HOME, LOGNAME, PATH, SHELL, TERM and USER (mcp's default). Certificate
# settings pass to every stdio server (a server calling an HTTPS API needs them; they hold no secret);
# a server launched through uv/uvx (its own environment, e.g. `uvx --with "mcp<2" --from PKG ...`)
# also gets uv's settings and the proxy, which it needs to install the package. Anything else only
# through the connector's `env` / `pass_env`.
_CERT_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
_LAUNCHER_ENV = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "all_proxy",
    "XDG_CACHE_HOME",
    "XDG_DATA_HOME",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
)
_UV_LAUNCHERS = {"uv", "uvx"}


def launcher_env(command: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a stdio server started by `command` inherits beyond mcp's defaults."""
    env = os.environ if environ is None else environ
    names = list(_CERT_ENV)
    if Path(command).name in _UV_LAUNCHERS:
        names += [*_LAUNCHER_ENV, *(n for n in env if n.startswith("UV_") and not n.startswith("UV_PUBLISH_"))]
    return {n: env[n] for n in names if n in env}


class ConnectorError(RuntimeError):
    """A source could not be read. The message names the source, the tool and the cause.

    The cause is server text at times: secrets (shapes and every value closeboard expanded from
    ``${ENV}`` or an ``auth:`` block, ``register_secret``) are blanked and control characters and
    terminal escape sequences removed before the message exists, so nothing downstream (the call
    log, Dagster's run storage, the CLI) ever holds them."""

    def __init__(self, source: str, tool: str, cause: str, *, transient: bool = False, attempts: int = 1) -> None:
        cause = printable(scrub(cause))  # a server's message or stderr may echo a token: never pass one on
        super().__init__(f"source {source!r}, tool {tool!r}: {cause}")
        self.source, self.tool, self.cause = source, tool, cause
        self.transient = transient  # the source may recover: worth retrying the whole step later
        self.attempts = attempts  # how many times the client sent the failing call (its own retries)


class ToolNotAllowed(ConnectorError):
    """The tool is not in the source's `allow_tools`; nothing was sent."""


class AuthRequired(ConnectorError):
    """The source needs `closeboard auth login SOURCE`; retrying cannot help and nothing waits for a person."""


class _Transient(Exception):
    """A failure worth retrying (after reopening the session when it is broken)."""

    def __init__(self, cause: str, *, reconnect: bool) -> None:
        super().__init__(cause)
        self.reconnect = reconnect


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    as_of: str | None
    number: int
    nbytes: int


# the transport failing under a request (a dead stdio server, a dropped HTTP connection, a stream closed)
TRANSPORT_ERRORS = (
    httpx2.TransportError,
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    TimeoutError,
)


SESSION_TOOL = "(session)"  # connector_calls' `tool` of a failure of the session between calls


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _safe_cause(exc: BaseException) -> BaseException:
    """`exc` to chain under a ConnectorError, or a stand-in without its text when any exception in
    its chain holds a secret (Dagster stores the whole chain with a failure)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if scrub(str(current)) != str(current):
            stand_in = RedactedCause(f"{type(exc).__name__}: {printable(scrub(_describe(exc)))}")
            return stand_in.with_traceback(exc.__traceback__)
        stack += [e for e in (current.__cause__, current.__context__) if e is not None]
        if isinstance(current, BaseExceptionGroup):
            stack += list(current.exceptions)
    return exc


class ProgressGuard:
    """Stops a paged read that makes no progress: a cursor seen before, or a page repeating the
    items of an earlier one (a server that keeps sending new cursors over the same data). The
    source's time budget (``client.time_budget_s``) stops one that sends new data for ever."""

    def __init__(self, source: str, tool: str) -> None:
        self.source, self.tool = source, tool
        self._cursors: set[str] = set()
        self._pages: dict[tuple[Any, ...], int] = {}

    def page(self, number: int, items: list[Any], cursor: Any = None) -> None:
        if items:
            key = (len(items), _fingerprint(items[0]), _fingerprint(items[-1]))
            if key in self._pages:
                raise ConnectorError(
                    self.source,
                    self.tool,
                    f"page {number} repeats the items of page {self._pages[key]} "
                    f"(the server is not advancing): paging stopped",
                )
            self._pages[key] = number
        if cursor is not None:
            text = cursor if isinstance(cursor, str) else json.dumps(cursor, sort_keys=True, default=str)
            if text in self._cursors:
                raise ConnectorError(
                    self.source,
                    self.tool,
                    f"the server repeated cursor {text[:80]!r} on page {number}: paging would not end",
                )
            self._cursors.add(text)


def _fingerprint(item: Any) -> str:
    try:
        return hashlib.blake2b(_SIZE_ENCODER.encode(item), digest_size=16).hexdigest()
    except (TypeError, ValueError, OverflowError):
        return repr(item)


class SourceSession:
    """An open MCP session to one configured source.

    ``server`` overrides the configured transport with an in-process server object (tests);
    ``servers``: stdio servers started ahead, the one started for this source's parameters is used."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        home: Path | None = None,
        log: CallLog | None = None,
        server: Any = None,
        pinning: bool = True,
        servers: ServerPool | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.home = home
        self.log = log if log is not None else CallLog()
        self._server_override = server
        self._servers = servers  # stdio servers started ahead (connectors/prestart.py): this one's is adopted
        # tool approval (connectors/pinning.py): on whenever there is a data home to keep approvals in
        self.pinning = pinning and home is not None
        self._approved: frozenset[str] | None = None  # verified against the server in this session
        self._stack: AsyncExitStack | None = None
        self._client: Client | None = None
        self._stderr: Any = None
        self.secrets: set[str] = set()  # every value this session expanded from ${ENV}, pass_env or its auth: block
        self.clock: Callable[[], float] = time.monotonic  # the time budget's clock (tests step it)
        self._started: float | None = None  # the first call: the source's time budget runs from here
        self._secret_seen = False  # a result held a known secret since `secret_seen` was last asked
        self._register_config_secrets()

    # -- secrets ------------------------------------------------------------------------------
    def _expand(self, value: str) -> str:
        """`expand`, remembering every value it put in as a secret to redact (``register_secret``)."""
        expanded = expand(value, source=self.name)
        for name in _ENV_REF.findall(value):
            self._secret(os.environ.get(name))
        return expanded

    def _secret(self, value: str | None) -> None:
        if value and len(value) >= MIN_SECRET_CHARS and value not in self.secrets:
            self.secrets.add(value)
            register_secret(value)

    def _register_config_secrets(self) -> None:
        """Known from the start, whatever transport is used: the values of every ``${NAME}`` the
        connector references (server env, headers, args, url; the `auth:` block's token and client
        secret) and the per-source client-secret override. Unset names are left to `expand`."""
        server, auth = self.config.server, getattr(self.config, "auth", None)
        texts = [
            *(server.env or {}).values(),
            *(server.headers or {}).values(),
            *(server.args or ()),
            server.url or "",
            getattr(auth, "token", None) or "",
            getattr(auth, "client_secret", None) or "",
        ]
        for text in texts:
            for name in _ENV_REF.findall(str(text)):
                self._secret(os.environ.get(name))
        for name in server.pass_env or ():  # handed to the server as they are: secrets as much as `env:`
            self._secret(os.environ.get(name))
        if auth is not None:
            try:
                from connectors.auth import env_name

                self._secret(os.environ.get(env_name(self.name, "CLIENT_SECRET")))
            except Exception:  # pragma: no cover - the auth package is optional here
                pass

    def _register_live_tokens(self) -> None:
        """The OAuth access / refresh token and the client secret the auth provider holds right now."""
        context = getattr(self._auth, "context", None)
        tokens = getattr(context, "current_tokens", None)
        for value in (
            getattr(tokens, "access_token", None),
            getattr(tokens, "refresh_token", None),
            getattr(getattr(context, "client_info", None), "client_secret", None),
        ):
            if isinstance(value, str):
                self._secret(value)

    # -- session lifecycle -------------------------------------------------------------------
    _auth: Any = None  # the connector's httpx2.Auth (connectors/auth), made when a session opens

    def _transport(self) -> Any:
        if self._server_override is not None:
            return self._server_override
        server = self.config.server
        if server.url:
            from connectors.auth import connection_auth

            url = self._expand(server.url)
            headers = {k: self._expand(v) for k, v in server.headers.items()}
            extra, self._auth = connection_auth(self.config, self.home)  # the `auth:` block, if any
            headers.update(extra)
            for value in extra.values():  # "Bearer <token>": the token itself
                self._secret(value.split(" ", 1)[-1])
            cap = self.config.client.max_response_bytes
            http = httpx2.AsyncClient(
                headers=headers,
                auth=self._auth,
                timeout=self.config.client.call_timeout_s,
                transport=_CappedTransport(httpx2.AsyncHTTPTransport(), cap),
            )
            # the SDK's own per-event cap bounds an SSE answer while it is read (DESIGN: not its 1 MiB
            # default, which fails a slow tool's page): the response-size cap
            return streamable_http_client(url, http_client=http, max_sse_event_size=cap)
        params = self.stdio_parameters()
        started = self._servers.take(params) if self._servers is not None else None
        process, self._stderr = started or (
            None,
            tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace"),
        )
        # closeboard's own transport: counts the bytes of each message while reading (the SDK's holds a whole line)
        return stdio_client(
            params, errlog=self._stderr, max_line_bytes=self.config.client.max_response_bytes, process=process
        )

    def stdio_parameters(self) -> StdioServerParameters:
        """How the source's stdio server is started: its command, arguments and environment expanded."""
        server = self.config.server
        command = sys.executable if server.command in _PYTHON_NAMES else str(server.command)
        env = launcher_env(command)
        env.update({k: self._expand(v) for k, v in server.env.items()})
        for name in server.pass_env:
            if name in os.environ:
                env[name] = os.environ[name]
        if self.home is not None:
            env.setdefault("CLOSEBOARD_HOME", str(self.home.resolve()))
        return StdioServerParameters(command=command, args=[self._expand(a) for a in server.args], env=env)

    def _server_stderr(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            lines = [line.rstrip() for line in self._stderr.read().splitlines() if line.strip()]
        except (OSError, ValueError):
            return ""
        return f" (server stderr: {' | '.join(lines[-3:])})" if lines else ""

    async def open(self) -> None:
        transport = self._transport()  # a missing ${SECRET} is a ConfigError, not a connection failure
        stack = AsyncExitStack()
        try:
            client = Client(
                transport, read_timeout_seconds=self.config.client.call_timeout_s, mode=self.config.client.handshake
            )
            self._client = await stack.enter_async_context(client)
        except BaseException as exc:
            await stack.aclose()
            self._client = None
            if isinstance(exc, Exception):
                from connectors.auth import sign_in_failure

                if (needed := sign_in_failure(self._auth, exc)) is not None:
                    raise AuthRequired(self.name, "(connect)", needed) from None
                self._register_live_tokens()
                raise ConnectorError(
                    self.name, "(connect)", f"cannot reach the server: {_describe(exc)}{self._server_stderr()}"
                ) from _safe_cause(exc)
            raise
        self._stack = stack

    async def close(self) -> Exception | None:
        """Close the session; returns what its task group failed with (None when it closed cleanly).

        A dead server can fail its own shutdown: that is returned, not raised (nothing left to save)."""
        stack, self._stack, self._client = self._stack, None, None
        failure: Exception | None = None
        if stack is not None:
            try:
                await stack.aclose()
            except Exception as exc:
                failure = exc
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return failure

    async def _broken(self, tool: str) -> ConnectorError | _Transient | None:
        """A cancellation reached this task: when the session's own task group sent it (its transport
        failed: a token refresh that failed in the middle of the session, a dropped connection...),
        the session is closed and its failure returned as AuthRequired when only a new sign-in helps,
        else as a _Transient (the retry opens a new session). None when the session closed cleanly:
        the cancellation came from outside and must go on as it is."""
        stderr = self._server_stderr()
        failure = await self.close()
        if failure is None or _cancel_pending():
            return None
        await anyio.lowlevel.checkpoint_if_cancelled()  # cancelled from outside as well: that cancellation wins
        from connectors.auth import sign_in_failure

        if (needed := sign_in_failure(self._auth, failure)) is not None:
            return AuthRequired(self.name, tool, needed)
        transient = _Transient(f"the session failed: {_describe(failure)}{stderr}", reconnect=False)
        transient.__cause__ = failure
        return transient

    async def __aenter__(self) -> SourceSession:
        """The server is started (or reached) on the first call, so a failure names that tool."""
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None or not issubclass(exc_type, anyio.get_cancelled_exc_class()):
            await self.close()
            return
        # cancelled between calls: by the session's own failure (raised as the ConnectorError it is) or from outside
        broken = await self._broken(SESSION_TOOL)
        if isinstance(broken, _Transient):
            cause = broken.__cause__
            raise ConnectorError(self.name, SESSION_TOOL, str(broken), transient=True) from (
                _safe_cause(cause) if cause is not None else None
            )
        if broken is not None:
            raise broken from None

    # -- calls --------------------------------------------------------------------------------
    def check_allowed(self, tool: str) -> None:
        if tool not in self.config.allow_tools:
            raise ToolNotAllowed(
                self.name, tool, f"not in allow_tools {list(self.config.allow_tools)}; nothing was sent"
            )
        if self.pinning:
            approved = self._approved
            if approved is None:  # before the first connection: the approval file, if there is one yet
                approval = self._load_approval()
                approved = frozenset(approval.tools) if approval is not None else None
            if approved is not None and tool not in approved:
                raise ToolNotAllowed(
                    self.name,
                    tool,
                    f"not an approved tool of this source (approved: {sorted(approved)}); nothing "
                    f"was sent. Review it with `closeboard connectors check` and approve it with "
                    f"`closeboard connectors check --accept {self.name}`",
                )

    def _load_approval(self) -> Any:
        from connectors import pinning

        assert self.home is not None
        try:
            return pinning.load(self.home, self.name)
        except ValueError as exc:
            raise ConnectorError(self.name, "(approved tools)", str(exc)) from None

    async def _verify_tools(self) -> None:
        """Once per session, after `initialize`: list the tools and hold them against the approved set
        (recording it at the first connection). A changed or vanished approved tool fails the source."""
        from connectors import pinning

        assert self._client is not None and self.home is not None
        started = time.perf_counter()
        record = CallRecord(self.name, "(tools/list)", "{}", None, None, None, 0, "error")
        try:
            with self._mcp_errors("(tools/list)", "listing the tools failed: "):
                tools = list((await self._client.list_tools()).tools)
            record.items = len(tools)
            offered = {t.name: t for t in tools}
            approval = self._load_approval()
            if approval is None:
                approval = pinning.record(
                    self.home, self.name, pinning.wanted(offered, self.config.allow_tools), how="first use"
                )
                self.log.notes.append(
                    f"first connection: approved {len(approval.tools)} tools on trust "
                    f"({', '.join(sorted(approval.tools)) or 'none'}), recorded in "
                    f"{pinning.approved_path(self.home, self.name)}"
                )
            else:
                changes = [
                    c
                    for c in pinning.compare(approval, offered, self.config.allow_tools)
                    if c.kind in ("changed", "vanished")
                ]
                if changes:
                    raise ConnectorError(self.name, changes[0].tool, pinning.failure_message(self.name, changes))
            self._approved = frozenset(approval.tools)
        except (ConnectorError, _Transient) as exc:  # audited (a successful listing reads no data: not logged)
            record.error = scrub(exc.cause if isinstance(exc, ConnectorError) else str(exc))
            record.duration_ms = _ms_since(started)
            self.log.add(record)
            raise

    @contextmanager
    def _mcp_errors(self, tool: str, doing: str = "") -> Iterator[None]:
        """A request's failure as the client treats it (`doing` prefixes the cause): an MCP timeout or a
        closed connection, or the transport failing, is transient (retried; a closed connection or a
        failed transport reconnects first); any other MCP error is the server's answer, a ConnectorError
        naming `tool`. The server's last stderr lines are added to the cause."""
        try:
            yield
        except MCPError as exc:
            cause = f"{doing}{exc.error.message} (code {exc.code}){self._server_stderr()}"
            if exc.code in (REQUEST_TIMEOUT, CONNECTION_CLOSED):
                raise _Transient(cause, reconnect=exc.code == CONNECTION_CLOSED) from exc
            raise ConnectorError(self.name, tool, cause) from _safe_cause(exc)
        except TRANSPORT_ERRORS as exc:
            raise _Transient(f"{doing}{_describe(exc)}{self._server_stderr()}", reconnect=True) from exc

    async def list_tools(self) -> list[Any]:
        if self._client is None:
            await self.open()
        assert self._client is not None
        return list((await self._client.list_tools()).tools)

    async def _call_once(
        self, tool: str, arguments: dict[str, Any], page: int | None, decode: Decoder | None = None
    ) -> tuple[Any, int]:
        settings = self.config.client
        started = time.perf_counter()
        record = CallRecord(self.name, tool, redact(arguments), page, None, None, 0, "error")
        try:
            if self._client is None or (self.pinning and self._approved is None):
                await self._open_session()
                # the server's start, `initialize` and the tools' listing are audited beside this call, not in
                # its duration
                record.session_ms = _ms_since(started)
                started, record.called_at = time.perf_counter(), datetime.now(timezone.utc)  # the call's own start
            assert self._client is not None
            self.check_allowed(tool)  # against the approved set just verified: nothing unapproved is sent
            with self._mcp_errors(tool):
                result = await self._client.call_tool(tool, arguments, read_timeout_seconds=settings.call_timeout_s)
            error = reported_error(result)
            if error is not None:
                raise ConnectorError(self.name, tool, f"the server reported an error: {error}")
            try:  # bytes of every content kind, before any decoder reads it (adapters bring their own)
                check_size(result, settings.max_response_bytes)
                if result_holds_secret(result):  # a substring test; the records are screened on a hit only
                    self._secret_seen = True  # kept in the audit trail on this (successful) call, never the value
                    record.error = "the answer echoed a secret closeboard holds: blanked (***) in what was kept of it"
                payload, nbytes = (decode or parse_payload)(result, limit_bytes=settings.max_response_bytes)
            except ValueError as exc:
                raise ConnectorError(self.name, tool, str(exc)) from _safe_cause(exc)
            items = payload.get("items") if isinstance(payload, dict) else payload
            record.status, record.bytes = "ok", nbytes
            record.items = len(items) if isinstance(items, list) else None
            return payload, nbytes
        except (ConnectorError, _Transient) as exc:
            self._register_live_tokens()
            record.error = scrub(exc.cause if isinstance(exc, ConnectorError) else str(exc))
            raise
        except anyio.get_cancelled_exc_class():
            # the session's task group cancels this task when its transport fails (e.g. the token refresh
            # failed mid-session): surface that failure; a cancellation from outside goes on unchanged
            broken = await self._broken(tool)
            if broken is None:
                raise
            self._register_live_tokens()
            record.error = scrub(broken.cause if isinstance(broken, ConnectorError) else str(broken))
            raise broken from (_safe_cause(broken.__cause__) if broken.__cause__ is not None else None)
        finally:
            record.duration_ms = _ms_since(started)
            self.log.add(record)

    async def _open_session(self) -> None:
        """Start (or reach) the server, `initialize`, and verify the tools it lists (once per session)."""
        if self._client is None:
            try:
                await self.open()
            except AuthRequired:
                raise
            except ConnectorError as exc:
                raise _Transient(exc.cause, reconnect=False) from exc
        if self.pinning and self._approved is None:
            await self._verify_tools()

    async def call(
        self,
        tool: str,
        arguments: dict[str, Any] | None = None,
        *,
        page: int | None = None,
        decode: Decoder | None = None,
    ) -> tuple[Any, int]:
        """Call one allow-listed tool; returns (payload, bytes). Transient failures are retried.

        ``decode`` reads the result (default: structured content or JSON text, ``parse_payload``)."""
        self.check_allowed(tool)
        arguments = dict(arguments or {})
        settings = self.config.client
        self._check_budget(tool)
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            stop=stop_after_attempt(settings.retries + 1),
            wait=wait_exponential(multiplier=settings.backoff_s, max=settings.backoff_max_s),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self._check_budget(tool)  # a retry does not outlast the budget either
                    try:
                        return await self._call_once(tool, arguments, page, decode)
                    except _Transient as exc:
                        if exc.reconnect:
                            await self.close()
                        raise
        except _Transient as exc:
            raise ConnectorError(
                self.name,
                tool,
                f"{exc} (gave up after {settings.retries + 1} attempts)",
                transient=True,
                attempts=settings.retries + 1,
            ) from _safe_cause(exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def secret_seen(self) -> bool:
        """Whether a result read since the last ask held a value closeboard expanded (in any form);
        the caller then blanks it in the records it takes from those results (``blank_secrets``)."""
        seen, self._secret_seen = self._secret_seen, False
        return seen

    def _check_budget(self, tool: str) -> None:
        """The source's time budget (``client.time_budget_s``, from its first call): a source that is
        still being read when it runs out fails, naming the tool, instead of running for ever."""
        budget = getattr(self.config.client, "time_budget_s", None)
        now = self.clock()
        if self._started is None:
            self._started = now
        elif budget is not None and now - self._started > budget:
            calls = sum(1 for r in self.log.records if r.source == self.name)
            raise ConnectorError(
                self.name,
                tool,
                f"the source's time budget of {budget:g} s (client.time_budget_s) ran out after "
                f"{calls:,} calls; the pull was stopped",
            )


class ResponseTooLarge(httpx2.StreamError):
    """An HTTP answer grew past the response-size cap while it was read (the SDK turns a StreamError
    into a JSON-RPC error for the waiting call)."""


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, cap: int) -> None:
        self._inner, self._cap, self._read = inner, cap, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._read += len(chunk)
            if self._read > self._cap:
                raise ResponseTooLarge(
                    f"response exceeded the cap of {self._cap:,} bytes (client.max_response_bytes) while it was read"
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _CappedTransport(httpx2.AsyncBaseTransport):
    """Counts the bytes of each answer to a POST (one MCP request) as they arrive and stops reading
    past the cap, so an oversized answer is never held whole. The long-lived GET stream of server
    notifications is bounded per event by the SDK instead."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, cap: int) -> None:
        self._inner, self._cap = inner, cap

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST":
            return response
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self._cap),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def _cancel_pending() -> bool:
    """True when this task was cancelled from outside with asyncio's ``Task.cancel()`` (Ctrl-C in
    ``anyio.run``, an outer cancel scope): the session's own task group has taken its cancellations
    back (``uncancel``) by the time it is closed."""
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not running on asyncio
        return False
    return task is not None and task.cancelling() > 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text
