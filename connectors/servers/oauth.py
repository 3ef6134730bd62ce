"""A small built-in OAuth authorization server for the bundled servers (``--http PORT --oauth``).

It lets a user walk through ``closeboard auth login bank`` on one machine, and the tests use the same
path. In memory, consents automatically (no login page), and implements the mcp SDK's
``OAuthAuthorizationServerProvider``: authorization code + PKCE, dynamic client registration,
refresh-token rotation, revocation; plus the ``client_credentials`` grant (which the SDK's token
endpoint does not offer) for pre-registered clients.

Environment:
- ``CLOSEBOARD_OAUTH_ACCESS_TTL`` seconds an access token lives (default 3600)
- ``CLOSEBOARD_OAUTH_CLIENT_ID`` / ``CLOSEBOARD_OAUTH_CLIENT_SECRET``: one pre-registered client
  (authorization code, refresh and client credentials); ``CLOSEBOARD_OAUTH_REDIRECT_URIS`` (comma
  separated) its redirect URIs (default http://127.0.0.1:8976/callback; a loopback one matches on any
  port, RFC 8252 section 7.3)
- ``CLOSEBOARD_OAUTH_REGISTRATION=0`` turns dynamic client registration off (no registration endpoint)
- ``CLOSEBOARD_OAUTH_SCOPES`` the scopes offered (default "bank:read bank:write")
- ``CLOSEBOARD_OAUTH_TEST_HOOKS=1`` adds ``GET /_test/counters``, ``POST /_test/expire`` (every
  access token expires now), ``POST /_test/revoke_refresh`` (every refresh token is revoked) and
  ``POST /_test/fail_token?status=503&times=1&error=temporarily_unavailable`` (the next `times` requests
  to the token endpoint are answered `status` with that OAuth `error`, as an outage would; nothing is spent)
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, unquote

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    ProviderTokenVerifier,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.settings import AuthSettings, ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8976/callback"


class _LoopbackClient(OAuthClientInformationFull):
    """A pre-registered client whose loopback redirect URIs match on any port (RFC 8252 section 7.3: a
    native app's loopback listener takes whatever port is free when the person signs in)."""

    def validate_redirect_uri(self, redirect_uri: AnyUrl | None) -> AnyUrl:
        if (
            redirect_uri is not None
            and redirect_uri.host in _LOOPBACK
            and any(
                (r.scheme, r.host, r.path) == (redirect_uri.scheme, redirect_uri.host, redirect_uri.path)
                for r in self.redirect_uris or []
            )
        ):
            return redirect_uri
        return super().validate_redirect_uri(redirect_uri)


_LOOPBACK = ("127.0.0.1", "[::1]", "::1")


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


class MemoryAuthServer:
    """An in-memory ``OAuthAuthorizationServerProvider`` that consents automatically."""

    def __init__(self, *, scopes: list[str], access_ttl: int = 3600) -> None:
        self.scopes = scopes
        self.access_ttl = access_ttl
        self.clients: dict[str, OAuthClientInformationFull] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}
        self.pairs: dict[str, str] = {}  # refresh token -> its access token
        self.counters: Counter[str] = Counter()
        self.requested_scopes: list[str | None] = []
        self.token_failures: list[tuple[int, str]] = []  # test hook: answers for the next token requests

    # -- clients --------------------------------------------------------------------------------
    def preregister(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        self.clients[client_id] = _LoopbackClient(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=[AnyUrl(u) for u in redirect_uris],
            grant_types=["authorization_code", "refresh_token", "client_credentials"],
            response_types=["code"],
            token_endpoint_auth_method="client_secret_basic",
            scope=" ".join(self.scopes),
        )

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        self.counters["register"] += 1
        self.clients[client_info.client_id] = client_info

    # -- authorization code ----------------------------------------------------------------------
    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        self.counters["authorize"] += 1
        self.requested_scopes.append(" ".join(params.scopes) if params.scopes is not None else None)
        code = secrets.token_urlsafe(32)
        self.codes[code] = AuthorizationCode(
            code=code,
            scopes=params.scopes or list(self.scopes),
            expires_at=time.time() + 300,
            client_id=client.client_id,
            code_challenge=params.code_challenge,
            redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly,
            resource=params.resource,
            subject="demo-user",
        )
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, code: str) -> AuthorizationCode | None:
        return self.codes.get(code)

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, code: AuthorizationCode
    ) -> OAuthToken:
        self.counters["code_exchange"] += 1
        self.codes.pop(code.code, None)
        return self._issue(client.client_id, code.scopes, code.resource, refresh=True)

    # -- refresh (rotating) ----------------------------------------------------------------------
    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> RefreshToken | None:
        return self.refresh.get(refresh_token)

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: RefreshToken, scopes: list[str]
    ) -> OAuthToken:
        if self.refresh.pop(refresh_token.token, None) is None:
            raise TokenError("invalid_grant", "refresh token already used")
        self.pairs.pop(refresh_token.token, None)
        self.counters["refresh"] += 1
        return self._issue(client.client_id, scopes, refresh_token.resource, refresh=True)

    # -- client credentials ----------------------------------------------------------------------
    def client_credentials(self, client: OAuthClientInformationFull, scope: str | None) -> OAuthToken:
        self.counters["client_credentials"] += 1
        wanted = scope.split() if scope else list(self.scopes)
        bad = [s for s in wanted if s not in self.scopes]
        if bad:
            raise TokenError("invalid_scope", f"unknown scopes {bad}")
        return self._issue(client.client_id, wanted, None, refresh=False)

    # -- tokens ----------------------------------------------------------------------------------
    def _issue(self, client_id: str, scopes: list[str], resource: str | None, *, refresh: bool) -> OAuthToken:
        access = "at_" + secrets.token_urlsafe(32)
        expires_at = int(time.time()) + self.access_ttl
        self.access[access] = AccessToken(
            token=access,
            client_id=client_id,
            scopes=scopes,
            expires_at=expires_at,
            resource=resource,
            subject="demo-user",
        )
        refresh_token = None
        if refresh:
            refresh_token = "rt_" + secrets.token_urlsafe(32)
            self.refresh[refresh_token] = RefreshToken(
                token=refresh_token, client_id=client_id, scopes=scopes, resource=resource, subject="demo-user"
            )
            self.pairs[refresh_token] = access
        return OAuthToken(
            access_token=access,
            token_type="Bearer",
            expires_in=self.access_ttl,
            scope=" ".join(scopes),
            refresh_token=refresh_token,
        )

    async def load_access_token(self, token: str) -> AccessToken | None:
        found = self.access.get(token)
        if found is None or (found.expires_at is not None and found.expires_at < time.time()):
            return None
        self.counters["mcp_request"] += 1
        return found

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        self.counters["revoke"] += 1
        if isinstance(token, RefreshToken):
            self.refresh.pop(token.token, None)
            self.access.pop(self.pairs.pop(token.token, ""), None)
        else:
            self.access.pop(token.token, None)
            for rt, at in list(self.pairs.items()):
                if at == token.token:
                    self.refresh.pop(rt, None)
                    self.pairs.pop(rt, None)

    # -- test hooks ------------------------------------------------------------------------------
    def expire_access_tokens(self) -> None:
        for key, token in list(self.access.items()):
            self.access[key] = token.model_copy(update={"expires_at": int(time.time()) - 1})

    def revoke_refresh_tokens(self) -> None:
        self.refresh.clear()
        self.pairs.clear()


class _Extras:
    """ASGI wrapper: the ``client_credentials`` grant at ``/token`` and the optional test hooks;
    everything else goes to the SDK's app."""

    def __init__(self, app: Any, provider: MemoryAuthServer, *, hooks: bool) -> None:
        self.app, self.provider, self.hooks = app, provider, hooks

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "")
        if self.hooks and path.startswith("/_test/"):
            await self._hook(path, method, scope, send)
            return
        if path == "/token" and method == "POST" and self.provider.token_failures:
            status, error = self.provider.token_failures.pop(0)
            self.provider.counters["token_failed"] += 1
            await _json(send, status, {"error": error})
            return
        if path == "/token" and method == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            form = {k: v[-1] for k, v in parse_qs(body.decode("latin-1")).items()}
            if form.get("grant_type") == "client_credentials":
                await self._client_credentials(scope, form, send)
                return
            replayed = False

            async def replay() -> dict[str, Any]:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    async def _client_credentials(self, scope: Any, form: dict[str, str], send: Any) -> None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:]).decode()
                client_id, _, secret = raw.partition(":")
                client_id, secret = unquote(client_id), unquote(secret)
            except (ValueError, UnicodeDecodeError):
                client_id = secret = None
        client = self.provider.clients.get(client_id or "")
        if (
            client is None
            or not client.client_secret
            or secret is None
            or not hmac.compare_digest(client.client_secret.encode(), secret.encode())
            or "client_credentials" not in (client.grant_types or [])
        ):
            await _json(send, 401, {"error": "invalid_client"})
            return
        try:
            token = self.provider.client_credentials(client, form.get("scope"))
        except TokenError as exc:
            await _json(send, 400, {"error": exc.error, "error_description": exc.error_description})
            return
        await _json(send, 200, token.model_dump(mode="json", exclude_none=True))

    async def _hook(self, path: str, method: str, scope: Any, send: Any) -> None:
        if path == "/_test/counters":
            await _json(
                send,
                200,
                {"counters": dict(self.provider.counters), "requested_scopes": self.provider.requested_scopes},
            )
        elif path == "/_test/expire" and method == "POST":
            self.provider.expire_access_tokens()
            await _json(send, 200, {"ok": True})
        elif path == "/_test/revoke_refresh" and method == "POST":
            self.provider.revoke_refresh_tokens()
            await _json(send, 200, {"ok": True})
        elif path == "/_test/fail_token" and method == "POST":
            query = {k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
            try:
                status, times = int(query.get("status", "503")), int(query.get("times", "1"))
            except ValueError:
                await _json(send, 400, {"error": "status and times are integers"})
                return
            error = query.get("error", "temporarily_unavailable")
            self.provider.token_failures = [(status, error)] * times
            await _json(send, 200, {"ok": True})
        else:
            await _json(send, 404, {"error": "not found"})


async def _json(send: Any, status: int, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"cache-control", b"no-store")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def oauth_app(server: Any, host: str, port: int, environ: dict[str, str] | None = None) -> tuple[Any, MemoryAuthServer]:
    """The server's streamable-HTTP app (plain JSON at ``/mcp``) behind the built-in authorization server."""
    env = os.environ if environ is None else environ
    scopes = (env.get("CLOSEBOARD_OAUTH_SCOPES") or "bank:read bank:write").split()
    provider = MemoryAuthServer(scopes=scopes, access_ttl=_env_int("CLOSEBOARD_OAUTH_ACCESS_TTL", 3600))
    if env.get("CLOSEBOARD_OAUTH_CLIENT_ID"):
        redirects = (env.get("CLOSEBOARD_OAUTH_REDIRECT_URIS") or DEFAULT_REDIRECT_URI).split(",")
        provider.preregister(
            env["CLOSEBOARD_OAUTH_CLIENT_ID"],
            env.get("CLOSEBOARD_OAUTH_CLIENT_SECRET") or "",
            [r.strip() for r in redirects if r.strip()],
        )
    registration = (env.get("CLOSEBOARD_OAUTH_REGISTRATION") or "1") not in ("0", "false", "no")
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    settings = AuthSettings(
        issuer_url=base,
        resource_server_url=f"{base}/mcp",
        validate_token_resource=False,
        client_registration_options=ClientRegistrationOptions(
            enabled=registration, valid_scopes=scopes, default_scopes=scopes[:1]
        ),
        revocation_options=RevocationOptions(enabled=True),
        required_scopes=None,
    )
    app = server._lowlevel_server.streamable_http_app(  # noqa: SLF001 - MCPServer takes auth only at construction
        json_response=True,
        host=host,
        auth=settings,
        token_verifier=ProviderTokenVerifier(provider),
        auth_server_provider=provider,
        custom_starlette_routes=[],
    )
    hooks = (env.get("CLOSEBOARD_OAUTH_TEST_HOOKS") or "") in ("1", "true", "yes")
    return _Extras(app, provider, hooks=hooks), provider
