"""Signing in to hosted MCP servers: the connector's ``auth:`` block turned into an ``httpx2.Auth``.

- ``bearer``: a static ``Authorization: Bearer ${ENV}`` header.
- ``oauth``: authorization code + PKCE via the mcp SDK (discovery per RFC 9728 / RFC 8414, dynamic
  client registration or a pre-registered client); signing in happens only in
  ``closeboard auth login SOURCE``, a pipeline run refreshes or fails with that instruction.
- ``client_credentials``: machine to machine, no person involved.

Tokens live in ``<home>/secrets/auth/<source>.json`` (``connectors.auth.store``).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.auth.provider import (
    CloseboardClientCredentialsProvider,
    CloseboardOAuthProvider,
    RefreshUnavailable,
    SignInRequired,
    write_scopes,
)
from connectors.auth.store import TokenStore, auth_dir, env_name
from connectors.config import ConnectorConfig, expand

__all__ = [
    "RefreshUnavailable",
    "SignInRequired",
    "TokenStore",
    "auth_dir",
    "connection_auth",
    "env_name",
    "exception_chain",
    "resolve_home",
    "sign_in_failure",
    "write_scopes",
]


def resolve_home(home: Path | None) -> Path:
    """The data home the token files live under: `home`, else $CLOSEBOARD_HOME, else ./var."""
    return Path(home or os.environ.get("CLOSEBOARD_HOME") or "var").expanduser().resolve()


def _secret(connector: ConnectorConfig, configured: str | None) -> str | None:
    override = os.environ.get(env_name(connector.name, "CLIENT_SECRET"))
    if override:
        return override
    return expand(configured, source=connector.name) if configured else None


def connection_auth(
    connector: ConnectorConfig,
    home: Path | None,
    *,
    interactive: bool = False,
    redirect_handler: Callable[[str], Awaitable[None]] | None = None,
    callback_handler: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[dict[str, str], Any]:
    """(extra headers, ``httpx2.Auth`` or None) for the connector's ``auth:`` block.

    Secrets are expanded here, when a session opens, and never logged."""
    auth = connector.auth
    if auth is None:
        return {}, None
    if auth.kind == "bearer":
        assert auth.token is not None
        return {"Authorization": f"Bearer {expand(auth.token, source=connector.name)}"}, None
    server_url = expand(str(connector.server.url), source=connector.name)
    store = TokenStore(resolve_home(home), connector.name, persist_client_secret=not auth.client_id)
    if auth.kind == "client_credentials":
        secret = _secret(connector, auth.client_secret)
        assert auth.client_id is not None and secret is not None
        return {}, CloseboardClientCredentialsProvider(
            source=connector.name,
            server_url=server_url,
            store=store,
            client_id=auth.client_id,
            client_secret=secret,
            scope=auth.scope,
            issuer=auth.issuer,
        )
    return {}, CloseboardOAuthProvider(
        source=connector.name,
        server_url=server_url,
        store=store,
        redirect_uri=auth.redirect_uri,
        scope=auth.scope,
        client_id=auth.client_id,
        client_secret=_secret(connector, auth.client_secret) if auth.client_id else None,
        interactive=interactive,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


def sign_in_failure(provider: Any, exc: BaseException) -> str | None:
    """The "run `closeboard auth login SOURCE`" message when `exc` (or the provider) says a new sign-in
    is needed; None for any other failure."""
    recorded = getattr(provider, "sign_in_required", None)
    if recorded is not None:
        return str(recorded)
    return next((str(e) for e in exception_chain(exc) if isinstance(e, SignInRequired)), None)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, the members of exception groups and every cause and context below it, each once."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
