"""Per-source token files: ``<home>/secrets/auth/<source>.json``, mode 0600 in a 0700 directory.

Outside the rendered reports and never in DuckDB. Written atomically (temp file + ``os.replace``).
A file lock (``<source>.lock`` next to it) is held around each refresh so two runs never both spend
a rotating refresh token. The file keeps the absolute expiry, the client registration and the
authorization server's metadata, so a later process can refresh instead of signing in again
(python-sdk issue #3250).

Environment overrides (CI, servers): ``CLOSEBOARD_<SOURCE>_REFRESH_TOKEN`` seeds a refresh token when
the file holds none; ``CLOSEBOARD_<SOURCE>_CLIENT_SECRET`` replaces the configured client secret.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from filelock import FileLock
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, OAuthToken, ProtectedResourceMetadata

from connectors.plain import write_atomic

SECRETS_DIR = ("secrets", "auth")


def auth_dir(home: Path) -> Path:
    return Path(home) / SECRETS_DIR[0] / SECRETS_DIR[1]


def env_name(source: str, what: str) -> str:
    """``CLOSEBOARD_<SOURCE>_<WHAT>``: the source name upper-cased, other characters as ``_``."""
    return f"CLOSEBOARD_{re.sub(r'[^A-Za-z0-9]', '_', source).upper()}_{what}"


def _ensure_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for part in (path.parent, path):  # secrets/ and secrets/auth/
        try:
            os.chmod(part, 0o700)
        except OSError:
            pass


class TokenStore:
    """The mcp SDK's ``TokenStorage`` for one source, backed by one JSON file.

    ``bind(context)`` lets the store save the provider's discovered metadata with each token write."""

    def __init__(
        self, home: Path, source: str, *, persist_client_secret: bool = True, environ: dict[str, str] | None = None
    ) -> None:
        self.source = source
        self.dir = auth_dir(home)
        self.path = self.dir / f"{source}.json"
        self.lock_path = self.dir / f"{source}.lock"
        self.persist_client_secret = persist_client_secret
        self.environ = os.environ if environ is None else environ
        self._context: Any = None
        self._lock: FileLock | None = None

    # -- file ---------------------------------------------------------------------------------
    def read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged file is as good as none: sign in again
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        _ensure_private_dir(self.dir)
        data = dict(data, source=self.source, updated_at=time.time())
        write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True), mode=0o600)

    def update(self, **changes: Any) -> dict[str, Any]:
        data = self.read()
        data.update(changes)
        self.write(data)
        return data

    def delete(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

    # -- the refresh lock ---------------------------------------------------------------------
    @asynccontextmanager
    async def refresh_lock(self, timeout: float = 120.0):  # noqa: ANN201
        """Held around a refresh: another process refreshing the same source waits, then re-reads."""
        _ensure_private_dir(self.dir)
        lock = FileLock(str(self.lock_path), timeout=timeout, thread_local=False)
        await anyio.to_thread.run_sync(lock.acquire)
        try:
            yield
        finally:
            lock.release()

    # -- what a provider restores at start-up ----------------------------------------------------
    def bind(self, context: Any) -> None:
        self._context = context

    def expires_at(self) -> float | None:
        value = self.read().get("expires_at")
        return float(value) if value is not None else None

    def oauth_metadata(self) -> OAuthMetadata | None:
        raw = self.read().get("oauth_metadata")
        return OAuthMetadata.model_validate(raw) if raw else None

    def protected_resource_metadata(self) -> ProtectedResourceMetadata | None:
        raw = self.read().get("protected_resource_metadata")
        return ProtectedResourceMetadata.model_validate(raw) if raw else None

    def auth_server_url(self) -> str | None:
        return self.read().get("auth_server_url")

    # -- mcp.client.auth.TokenStorage ----------------------------------------------------------
    async def get_tokens(self) -> OAuthToken | None:
        raw = self.read().get("tokens")
        if raw:
            return OAuthToken.model_validate(raw)
        seeded = self.environ.get(env_name(self.source, "REFRESH_TOKEN"))
        if seeded:  # no access token yet: the provider refreshes at once
            return OAuthToken(access_token="", refresh_token=seeded)
        return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        expires_at = time.time() + tokens.expires_in if tokens.expires_in is not None else None
        changes: dict[str, Any] = {
            "tokens": tokens.model_dump(mode="json", exclude_none=True),
            "expires_at": expires_at,
            "granted_scopes": tokens.scope.split() if tokens.scope else [],
        }
        changes.update(self._context_metadata())
        self.update(**changes)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        raw = self.read().get("client_info")
        return OAuthClientInformationFull.model_validate(raw) if raw else None

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        raw = client_info.model_dump(mode="json", exclude_none=True)
        if not self.persist_client_secret:
            raw.pop("client_secret", None)  # a configured secret comes from ${ENV} every time
        self.update(client_info=raw, **self._context_metadata())

    def _context_metadata(self) -> dict[str, Any]:
        ctx = self._context
        if ctx is None:
            return {}
        out: dict[str, Any] = {}
        if ctx.oauth_metadata is not None:
            out["oauth_metadata"] = ctx.oauth_metadata.model_dump(mode="json", exclude_none=True)
        if ctx.protected_resource_metadata is not None:
            out["protected_resource_metadata"] = ctx.protected_resource_metadata.model_dump(
                mode="json", exclude_none=True
            )
        if ctx.auth_server_url:
            out["auth_server_url"] = ctx.auth_server_url
        return out
