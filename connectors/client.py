"""The MCP client closeboard reads every source through.

One session per source per run (starting a stdio server costs ~0.8 s). Every call goes through
the source's allow-list, has a timeout, is retried with backoff when the failure is transient
(a timeout, a dropped connection, a server that died: the session is reopened and the call
resumed from the same cursor), is capped in size, and is written to the call log that becomes
`connector_calls`. Errors name the source, the tool and the cause.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import msgspec
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from connectors.config import ConnectorConfig, expand

_PYTHON_NAMES = {"python", "python3", f"python3.{sys.version_info.minor}"}
_SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "auth")
# A stdio server inherits only HOME, LOGNAME, PATH, SHELL, TERM and USER (mcp's default). Certificate
# settings pass to every stdio server (a server calling an HTTPS API needs them; they hold no secret);
# a server launched through uv/uvx (its own environment, e.g. `uvx --with "mcp<2" --from PKG ...`)
# also gets uv's settings and the proxy, which it needs to install the package. Anything else only
# through the connector's `env` / `pass_env`.
_CERT_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
_LAUNCHER_ENV = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "no_proxy",
                 "all_proxy", "XDG_CACHE_HOME", "XDG_DATA_HOME", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")
_UV_LAUNCHERS = {"uv", "uvx"}


def launcher_env(command: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What a stdio server started by `command` inherits beyond mcp's defaults."""
    env = os.environ if environ is None else environ
    names = list(_CERT_ENV)
    if Path(command).name in _UV_LAUNCHERS:
        names += [*_LAUNCHER_ENV, *(n for n in env if n.startswith("UV_") and not n.startswith("UV_PUBLISH_"))]
    return {n: env[n] for n in names if n in env}


class ConnectorError(RuntimeError):
    """A source could not be read. The message names the source, the tool and the cause."""

    def __init__(self, source: str, tool: str, cause: str, *, transient: bool = False) -> None:
        cause = scrub(cause)  # a server's message or stderr may echo a token: never pass one on
        super().__init__(f"source {source!r}, tool {tool!r}: {cause}")
        self.source, self.tool, self.cause = source, tool, cause
        self.transient = transient  # the source may recover: worth retrying the whole step later


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


@dataclass
class CallRecord:
    """One MCP call: a row of `connector_calls`."""

    source: str
    tool: str
    arguments: str
    page: int | None
    items: int | None
    bytes: int | None
    duration_ms: int
    status: str
    error: str | None = None
    called_at: datetime | None = None  # when the call started (UTC)

    def __post_init__(self) -> None:
        if self.called_at is None:
            self.called_at = datetime.now(timezone.utc)


@dataclass
class CallLog:
    records: list[CallRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things worth telling whoever runs the pull (e.g. tool approval)

    def add(self, record: CallRecord) -> None:
        self.records.append(record)


# values that are secrets whatever their key: an Authorization value, a JWT, vendors' key prefixes
_SECRET_VALUE = re.compile(
    r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}|\b(?:ghp|gho|ghs|xox[abpr])[_-][A-Za-z0-9-]{8,}"
)


def scrub(text: str) -> str:
    """`text` with secret-looking values (bearer tokens, JWTs, API keys) blanked."""
    return _SECRET_VALUE.sub("***", text)


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else _redacted(v))
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def redact(arguments: dict[str, Any]) -> str:
    """Arguments as JSON with anything that looks like a secret blanked: values under a key naming a
    key, token, secret, password or authorization (at any depth), and secret-looking values."""
    return json.dumps(_redacted(arguments), separators=(",", ":"), default=str)


def parse_payload(result: Any, *, limit_bytes: int) -> tuple[Any, int]:
    """The JSON a tool answered, from structured content or from JSON text content.

    Numbers are parsed as Decimal so an amount sent as a JSON number keeps its digits."""
    if result.structured_content is not None and not _has_text(result):
        payload = result.structured_content
        return payload, len(json.dumps(payload, default=str))
    texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
    if not texts:
        raise ValueError("the result has neither structured content nor text content")
    text = texts[0] if len(texts) == 1 else "".join(texts)
    nbytes = len(text)
    if nbytes > limit_bytes:
        raise ValueError(f"response of {nbytes} bytes exceeds the cap of {limit_bytes} bytes")
    try:  # msgspec parses a page ~1.7x faster than json; anything it refuses (NaN, lone surrogates...)
        return _DECODER.decode(text), nbytes  # is read by json, so the result is the same either way
    except msgspec.DecodeError:
        pass
    try:
        return json.loads(text, parse_float=Decimal), nbytes
    except json.JSONDecodeError as exc:
        raise ValueError(f"response is not JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None


# JSON numbers with a fraction or exponent as Decimal (never float), like json.loads(parse_float=Decimal)
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


def _has_text(result: Any) -> bool:
    return any(getattr(c, "type", None) == "text" for c in result.content)


Decoder = Callable[..., tuple[Any, int]]
"""``decode(result, *, limit_bytes) -> (payload, bytes)``: turns a tool result into a payload; a
``ValueError`` it raises becomes a ConnectorError naming the source and tool."""

_ERROR_TEXT = re.compile(r"^\s*(?:[A-Za-z]+ ){0,3}error\s*:", re.IGNORECASE)


def reported_error(result: Any) -> str | None:
    """The error a result reports: ``isError``, or text content that reads "Error: ..." (many real
    servers, mcp-server-sqlite among them, answer a failure as such text with ``isError`` false)."""
    texts = [getattr(c, "text", "") or "" for c in result.content if getattr(c, "type", None) == "text"]
    if result.is_error:
        return " ".join(texts)[:500] or "(no message)"
    if result.structured_content is None and texts and _ERROR_TEXT.match(texts[0]):
        return " ".join(texts)[:500]
    return None


class SourceSession:
    """An open MCP session to one configured source.

    ``server`` overrides the configured transport with an in-process server object (tests)."""

    def __init__(
        self,
        config: ConnectorConfig,
        *,
        home: Path | None = None,
        log: CallLog | None = None,
        server: Any = None,
        pinning: bool = True,
    ) -> None:
        self.config = config
        self.name = config.name
        self.home = home
        self.log = log if log is not None else CallLog()
        self._server_override = server
        # tool approval (connectors/pinning.py): on whenever there is a data home to keep approvals in
        self.pinning = pinning and home is not None
        self._approved: frozenset[str] | None = None  # verified against the server in this session
        self._stack: AsyncExitStack | None = None
        self._client: Client | None = None
        self._stderr: Any = None

    # -- session lifecycle -------------------------------------------------------------------
    _auth: Any = None  # the connector's httpx2.Auth (connectors/auth), made when a session opens

    def _transport(self) -> Any:
        if self._server_override is not None:
            return self._server_override
        server = self.config.server
        if server.url:
            from connectors.auth import connection_auth

            url = expand(server.url, source=self.name)
            headers = {k: expand(v, source=self.name) for k, v in server.headers.items()}
            extra, self._auth = connection_auth(self.config, self.home)  # the `auth:` block, if any
            headers.update(extra)
            http = httpx2.AsyncClient(headers=headers, auth=self._auth, timeout=self.config.client.call_timeout_s)
            return streamable_http_client(url, http_client=http, max_sse_event_size=None)
        command = sys.executable if server.command in _PYTHON_NAMES else str(server.command)
        env = launcher_env(command)
        env.update({k: expand(v, source=self.name) for k, v in server.env.items()})
        for name in server.pass_env:
            if name in os.environ:
                env[name] = os.environ[name]
        if self.home is not None:
            env.setdefault("CLOSEBOARD_HOME", str(self.home.resolve()))
        params = StdioServerParameters(
            command=command, args=[expand(a, source=self.name) for a in server.args], env=env
        )
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        return stdio_client(params, errlog=self._stderr)

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
            client = Client(transport, read_timeout_seconds=self.config.client.call_timeout_s,
                            mode=self.config.client.handshake)
            self._client = await stack.enter_async_context(client)
        except BaseException as exc:
            await stack.aclose()
            self._client = None
            if isinstance(exc, Exception):
                from connectors.auth import sign_in_failure

                if (needed := sign_in_failure(self._auth, exc)) is not None:
                    raise AuthRequired(self.name, "(connect)", needed) from None
                raise ConnectorError(
                    self.name, "(connect)", f"cannot reach the server: {_describe(exc)}{self._server_stderr()}"
                ) from exc
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
        broken = await self._broken("(session)")
        if isinstance(broken, _Transient):
            raise ConnectorError(self.name, "(session)", str(broken), transient=True) from broken.__cause__
        if broken is not None:
            raise broken from None

    # -- calls --------------------------------------------------------------------------------
    def check_allowed(self, tool: str) -> None:
        if tool not in self.config.allow_tools:
            raise ToolNotAllowed(self.name, tool, f"not in allow_tools {list(self.config.allow_tools)}; nothing was sent")
        if self.pinning:
            approved = self._approved
            if approved is None:  # before the first connection: the approval file, if there is one yet
                approval = self._load_approval()
                approved = frozenset(approval.tools) if approval is not None else None
            if approved is not None and tool not in approved:
                raise ToolNotAllowed(
                    self.name, tool, f"not an approved tool of this source (approved: {sorted(approved)}); nothing "
                    f"was sent. Review it with `closeboard connectors check` and approve it with "
                    f"`closeboard connectors check --accept {self.name}`")

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
            try:
                tools = list((await self._client.list_tools()).tools)
            except MCPError as exc:
                cause = f"listing the tools failed: {exc.error.message} (code {exc.code}){self._server_stderr()}"
                if exc.code in (REQUEST_TIMEOUT, CONNECTION_CLOSED):
                    raise _Transient(cause, reconnect=exc.code == CONNECTION_CLOSED) from exc
                raise ConnectorError(self.name, "(tools/list)", cause) from exc
            except (httpx2.TransportError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError,
                    anyio.EndOfStream, TimeoutError) as exc:
                raise _Transient(f"listing the tools failed: {_describe(exc)}{self._server_stderr()}",
                                 reconnect=True) from exc
            record.items = len(tools)
            offered = {t.name: t for t in tools}
            approval = self._load_approval()
            if approval is None:
                approval = pinning.record(self.home, self.name, pinning.wanted(offered, self.config.allow_tools),
                                          how="first use")
                self.log.notes.append(
                    f"first connection: approved {len(approval.tools)} tools on trust "
                    f"({', '.join(sorted(approval.tools)) or 'none'}), recorded in "
                    f"{pinning.approved_path(self.home, self.name)}")
            else:
                changes = [c for c in pinning.compare(approval, offered, self.config.allow_tools)
                           if c.kind in ("changed", "vanished")]
                if changes:
                    raise ConnectorError(self.name, changes[0].tool, pinning.failure_message(self.name, changes))
            self._approved = frozenset(approval.tools)
        except (ConnectorError, _Transient) as exc:  # audited (a successful listing reads no data: not logged)
            record.error = scrub(exc.cause if isinstance(exc, ConnectorError) else str(exc))
            record.duration_ms = int((time.perf_counter() - started) * 1000)
            self.log.add(record)
            raise

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
            if self._client is None:
                try:
                    await self.open()
                except AuthRequired:
                    raise
                except ConnectorError as exc:
                    raise _Transient(exc.cause, reconnect=False) from exc
            assert self._client is not None
            if self.pinning and self._approved is None:
                await self._verify_tools()
            self.check_allowed(tool)  # against the approved set just verified: nothing unapproved is sent
            try:
                result = await self._client.call_tool(tool, arguments, read_timeout_seconds=settings.call_timeout_s)
            except MCPError as exc:
                cause = f"{exc.error.message} (code {exc.code}){self._server_stderr()}"
                if exc.code in (REQUEST_TIMEOUT, CONNECTION_CLOSED):
                    raise _Transient(cause, reconnect=exc.code == CONNECTION_CLOSED) from exc
                raise ConnectorError(self.name, tool, cause) from exc
            except (httpx2.TransportError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError,
                    anyio.EndOfStream, TimeoutError) as exc:
                raise _Transient(f"{_describe(exc)}{self._server_stderr()}", reconnect=True) from exc
            error = reported_error(result)
            if error is not None:
                raise ConnectorError(self.name, tool, f"the server reported an error: {error}")
            try:
                payload, nbytes = (decode or parse_payload)(result, limit_bytes=settings.max_response_bytes)
            except ValueError as exc:
                raise ConnectorError(self.name, tool, str(exc)) from exc
            items = payload.get("items") if isinstance(payload, dict) else payload
            record.status, record.bytes = "ok", nbytes
            record.items = len(items) if isinstance(items, list) else None
            return payload, nbytes
        except (ConnectorError, _Transient) as exc:
            record.error = scrub(exc.cause if isinstance(exc, ConnectorError) else str(exc))
            raise
        except anyio.get_cancelled_exc_class():
            # the session's task group cancels this task when its transport fails (e.g. the token refresh
            # failed mid-session): surface that failure; a cancellation from outside goes on unchanged
            broken = await self._broken(tool)
            if broken is None:
                raise
            record.error = scrub(broken.cause if isinstance(broken, ConnectorError) else str(broken))
            raise broken from broken.__cause__
        finally:
            record.duration_ms = int((time.perf_counter() - started) * 1000)
            self.log.add(record)

    async def call(
        self, tool: str, arguments: dict[str, Any] | None = None, *, page: int | None = None,
        decode: Decoder | None = None,
    ) -> tuple[Any, int]:
        """Call one allow-listed tool; returns (payload, bytes). Transient failures are retried.

        ``decode`` reads the result (default: structured content or JSON text, ``parse_payload``)."""
        self.check_allowed(tool)
        arguments = dict(arguments or {})
        settings = self.config.client
        retrying = AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, _Transient)),
            stop=stop_after_attempt(settings.retries + 1),
            wait=wait_exponential(multiplier=settings.backoff_s, max=settings.backoff_max_s),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    try:
                        return await self._call_once(tool, arguments, page, decode)
                    except _Transient as exc:
                        if exc.reconnect:
                            await self.close()
                        raise
        except _Transient as exc:
            raise ConnectorError(
                self.name, tool, f"{exc} (gave up after {settings.retries + 1} attempts)", transient=True
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def pages(self, tool: str, arguments: dict[str, Any] | None = None) -> AsyncIterator[Page]:
        """Every page of a paged tool, following `next_cursor` until it is null."""
        arguments = dict(arguments or {})
        arguments.setdefault("limit", self.config.client.page_limit)
        cursor: str | None = None
        seen: set[str] = set()
        for number in range(1, self.config.client.max_pages + 1):
            args = dict(arguments, cursor=cursor) if cursor else arguments
            payload, nbytes = await self.call(tool, args, page=number)
            if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
                raise ConnectorError(self.name, tool, f"page {number} is not {{items: [...], next_cursor, total}}")
            cursor = payload.get("next_cursor") or None
            total = payload.get("total")
            yield Page(payload["items"], cursor, int(total) if total is not None else None,
                       payload.get("as_of"), number, nbytes)
            if cursor is None:
                return
            if cursor in seen:
                raise ConnectorError(self.name, tool, f"the server repeated cursor {cursor!r}: paging would not end")
            seen.add(cursor)
        raise ConnectorError(self.name, tool, f"more than {self.config.client.max_pages} pages")


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
