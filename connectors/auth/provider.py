"""OAuth providers for streamable-HTTP connectors, built on ``mcp.client.auth``.

Small subclasses of the SDK's ``OAuthClientProvider`` / ``ClientCredentialsOAuthProvider`` that
- restore the token's absolute expiry and the authorization server's metadata at start-up, so an
  expired access token is refreshed instead of starting a new sign-in (mcp 2.3.0 loads only the
  tokens and the client: python-sdk issue #3250);
- hold a file lock around each refresh and re-read the token file under it, so two runs never both
  spend a rotating refresh token (the second one finds the fresh token the first one stored);
- ask only for the scopes the connector's config names (the SDK would ask for everything the server
  advertises), keeping ``offline_access`` when the server offers it;
- in a pipeline run (not interactive) never wait for a person: when a new sign-in would be needed the
  flow stops at once with ``SignInRequired`` naming ``closeboard auth login SOURCE``;
- drop the stored tokens only when the authorization server says the refresh token can never work
  again (400/401 ``invalid_grant`` / ``invalid_client``); any other failed refresh (5xx, 429, an
  unreachable server...) raises ``RefreshUnavailable``, a transient failure, and keeps the file as it is.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata
from pydantic import AnyUrl, PrivateAttr

from connectors.auth.store import TokenStore

logger = logging.getLogger(__name__)

_WRITE_SCOPE = re.compile(r"write|admin|delete|manage|modify|create|update|full|:w\b|\.w\b|\*", re.IGNORECASE)


def write_scopes(scopes: list[str] | tuple[str, ...] | None) -> list[str]:
    """The scopes that look like they allow changes (closeboard only reads)."""
    return [s for s in scopes or () if _WRITE_SCOPE.search(s)]


class SignInRequired(Exception):
    """The source needs a person to sign in again; a pipeline run never waits for one."""

    def __init__(self, source: str, why: str = "needs a new sign-in") -> None:
        super().__init__(f"{why}: run `closeboard auth login {source}`")
        self.source = source


class RefreshUnavailable(Exception):
    """The authorization server could not refresh the token just now (5xx, 429, an unexpected answer):
    transient. The stored tokens are kept, so a later run refreshes without a new sign-in."""

    def __init__(self, source: str, why: str) -> None:
        super().__init__(
            f"refreshing the access token failed ({why}); the stored sign-in is kept and a later run tries again"
        )
        self.source = source


# the OAuth errors (RFC 6749 section 5.2) after which the stored refresh token can never work again
_SPENT = frozenset({"invalid_grant", "invalid_client"})


def _oauth_error(response: httpx2.Response) -> str | None:
    """The ``error`` of an OAuth error answer, if its body is one."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


class _PinnedScopeMetadata(OAuthClientMetadata):
    """Client metadata whose ``scope`` stays the configured one whatever the SDK assigns to it
    (it replaces it with everything the server advertises); ``offline_access`` is kept when the
    SDK adds it because the authorization server offers it."""

    _pinned: str | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "scope" and self._pinned:
            wanted = self._pinned.split()
            if isinstance(value, str) and "offline_access" in value.split() and "offline_access" not in wanted:
                wanted.append("offline_access")
            value = " ".join(wanted)
        super().__setattr__(name, value)


class _Restoring:
    """Mixin over an SDK provider: restore expiry and metadata, lock refreshes, stay non-interactive."""

    store: TokenStore
    source: str
    interactive: bool
    context: Any
    _initialized: bool
    _fixed_info: OAuthClientInformationFull | None = None

    def _setup(
        self, store: TokenStore, source: str, interactive: bool, fixed_info: OAuthClientInformationFull | None
    ) -> None:
        self.store, self.source, self.interactive = store, source, interactive
        self._fixed_info = fixed_info
        self.sign_in_required: SignInRequired | None = None
        self.refresh_unavailable: RefreshUnavailable | None = None  # the last transient refresh failure
        self._started = False
        self.refreshes = 0
        store.bind(self.context)

    async def _initialize(self) -> None:
        await super()._initialize()  # type: ignore[misc]
        ctx = self.context
        if self.interactive and not self._started:  # a sign-in asks afresh; stored tokens stay until it succeeds
            ctx.current_tokens = None
        self._started = True
        if self._fixed_info is not None:
            ctx.client_info = self._fixed_info
        elif (
            ctx.client_info is not None
            and ctx.client_metadata.redirect_uris
            and str(ctx.client_metadata.redirect_uris[0]) not in [str(u) for u in ctx.client_info.redirect_uris or []]
        ):
            ctx.client_info = None  # registered for another redirect_uri: register again
        # python-sdk #3250: bring back what the SDK forgets across processes
        ctx.token_expiry_time = self.store.expires_at() if ctx.current_tokens else None
        if ctx.oauth_metadata is None:
            ctx.oauth_metadata = self.store.oauth_metadata()
        if ctx.protected_resource_metadata is None:
            ctx.protected_resource_metadata = self.store.protected_resource_metadata()
        if ctx.auth_server_url is None:
            ctx.auth_server_url = self.store.auth_server_url()

    def _needs_person(self) -> bool:
        """True when only a new sign-in can produce a token (no token, nothing to refresh with)."""
        return False

    async def _locked_refresh(self, rejected: str | None = None) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """Refresh under the file lock. ``rejected``: an access token the server just refused (401)
        although it had not expired by our clock."""
        ctx = self.context
        async with self.store.refresh_lock():
            # another run may have refreshed while we waited: take what is on disk now
            await self._initialize()
            current = ctx.current_tokens.access_token if ctx.current_tokens else None
            if rejected is not None and current == rejected:
                ctx.token_expiry_time = 1.0  # in the past: the server says it is no longer good (0 would mean "never")
            if ctx.is_token_valid() or not ctx.can_refresh_token():
                return
            request = await self._refresh_token()  # type: ignore[attr-defined]
            response = yield request
            self.refreshes += 1
            if response.status_code != 200:
                await response.aread()
                error = _oauth_error(response)
                if response.status_code in (400, 401) and error in _SPENT:
                    # the authorization server refused the refresh token: it is spent or revoked
                    logger.warning(
                        "source %r: the authorization server refused the refresh token (%s)", self.source, error
                    )
                    data = self.store.read()
                    data.pop("tokens", None)
                    data.pop("expires_at", None)
                    self.store.write(data)
                    ctx.clear_tokens()
                    return
                # an outage, a rate limit, anything else: the refresh token may still be good, keep it
                self.refresh_unavailable = RefreshUnavailable(
                    self.source, f"HTTP {response.status_code}" + (f" {error}" if error else "")
                )
                logger.warning("source %r: %s", self.source, self.refresh_unavailable)
                raise self.refresh_unavailable
            if not await self._handle_refresh_response(response):  # type: ignore[attr-defined]
                # a 200 that is no token: nothing was stored; keep the file and try again next run
                ctx.current_tokens = await self.context.storage.get_tokens()
                self.refresh_unavailable = RefreshUnavailable(self.source, "the answer is not a token")
                raise self.refresh_unavailable

    async def _auth_flow(self, request: httpx2.Request) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        ctx = self.context
        async with ctx.lock:
            if not self._initialized:
                await self._initialize()
            if not ctx.is_token_valid() and ctx.can_refresh_token():
                # aclosing: the file lock is released on every path, also when sending the refresh fails
                async with aclosing(self._locked_refresh()) as refresh:
                    try:
                        outgoing = await refresh.__anext__()
                        while True:
                            outgoing = await refresh.asend((yield outgoing))
                    except StopAsyncIteration:
                        pass
            if not self.interactive and not ctx.is_token_valid() and self._needs_person():
                self.sign_in_required = SignInRequired(self.source)
                raise self.sign_in_required
        flow = super()._auth_flow(request)  # type: ignore[misc]
        retried = False
        try:
            outgoing = await flow.__anext__()
            while True:
                response = yield outgoing
                if outgoing is request and response.status_code == 401 and not retried and ctx.can_refresh_token():
                    # refused before its expiry (revoked, server restarted, clock skew): a refresh
                    # token may still be good, so try it once before the SDK starts a whole new sign-in
                    retried = True
                    rejected = ctx.current_tokens.access_token
                    # the SDK's flow holds ctx.lock already; aclosing as above
                    async with aclosing(self._locked_refresh(rejected)) as refresh:
                        try:
                            step = await refresh.__anext__()
                            while True:
                                step = await refresh.asend((yield step))
                        except StopAsyncIteration:
                            pass
                    if ctx.is_token_valid() and ctx.current_tokens.access_token != rejected:
                        self._add_auth_header(request)  # type: ignore[attr-defined]
                        response = yield request
                outgoing = await flow.asend(response)
        except StopAsyncIteration:
            return
        finally:
            await flow.aclose()


class CloseboardOAuthProvider(_Restoring, OAuthClientProvider):
    """Authorization code + PKCE (dynamic registration, or a pre-registered client)."""

    def __init__(
        self,
        *,
        source: str,
        server_url: str,
        store: TokenStore,
        redirect_uri: str,
        scope: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        interactive: bool = False,
        redirect_handler: Callable[[str], Awaitable[None]] | None = None,
        callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]] | None = None,
    ) -> None:
        metadata = _PinnedScopeMetadata(
            client_name="closeboard",
            redirect_uris=[AnyUrl(redirect_uri)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            scope=scope,
            **({"token_endpoint_auth_method": "client_secret_post" if client_secret else "none"} if client_id else {}),
        )
        metadata._pinned = scope
        fixed = None
        if client_id:
            fixed = OAuthClientInformationFull(
                client_id=client_id,
                client_secret=client_secret or None,
                redirect_uris=[AnyUrl(redirect_uri)],
                grant_types=["authorization_code", "refresh_token"],
                response_types=["code"],
                token_endpoint_auth_method="client_secret_post" if client_secret else "none",
                scope=scope,
            )
        if not interactive or redirect_handler is None:
            redirect_handler, callback_handler = self._refuse, self._refuse_callback
        super().__init__(server_url, metadata, store, redirect_handler, callback_handler)
        self._setup(store, source, interactive, fixed)

    def _needs_person(self) -> bool:
        ctx = self.context
        return not (ctx.current_tokens and ctx.current_tokens.access_token)

    def _pick_client_auth(self) -> None:
        """A pre-registered confidential client authenticates the way the server says it accepts:
        client_secret_basic (RFC 8414's default) unless the metadata lists only client_secret_post."""
        info = self.context.client_info
        if self._fixed_info is None or info is None or not info.client_secret:
            return
        metadata = self.context.oauth_metadata
        supported = (metadata.token_endpoint_auth_methods_supported if metadata is not None else None) or []
        method = (
            "client_secret_post"
            if supported and "client_secret_basic" not in supported and "client_secret_post" in supported
            else "client_secret_basic"
        )
        info.token_endpoint_auth_method = method

    async def _initialize(self) -> None:
        await super()._initialize()
        self._pick_client_auth()

    async def _perform_authorization_code_grant(self) -> tuple[str, str]:
        self._pick_client_auth()  # the metadata was just discovered
        return await super()._perform_authorization_code_grant()

    async def _refuse(self, url: str) -> None:
        self.sign_in_required = SignInRequired(self.source)
        raise self.sign_in_required

    async def _refuse_callback(self) -> AuthorizationCodeResult:  # pragma: no cover - _refuse raises first
        raise SignInRequired(self.source)


class CloseboardClientCredentialsProvider(_Restoring, ClientCredentialsOAuthProvider):
    """Client credentials (machine to machine): never needs a person."""

    def __init__(
        self,
        *,
        source: str,
        server_url: str,
        store: TokenStore,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        issuer: str | None = None,
    ) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an omitted issuer is deprecated, not wrong, in mcp 2.3
            super().__init__(server_url, store, client_id, client_secret, "client_secret_basic", scope, issuer)
        if scope:  # the SDK would ask for every scope the server advertises
            pinned = _PinnedScopeMetadata.model_validate(self.context.client_metadata.model_dump())
            pinned._pinned = scope
            self.context.client_metadata = pinned
        self._setup(store, source, False, None)
