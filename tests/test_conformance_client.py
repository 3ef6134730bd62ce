"""The official MCP conformance suite's client `auth` scenarios against closeboard's OAuth client.

The suite starts this module as the client under test (`python -m tests.test_conformance_client URL`,
scenario in $MCP_CONFORMANCE_SCENARIO, credentials in $MCP_CONFORMANCE_CONTEXT): it signs in through
closeboard's own providers (connectors.auth: the SDK's OAuthClientProvider subclass with the token
file, or the client-credentials provider), with a "person" that follows the authorization redirect
programmatically, then lists the tools and calls one. The suite is installed by tests/conformance.py
(.ci/run: `python3 tests/conformance.py install`); these tests skip only when npm or its registry is absent.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

REPO = Path(__file__).resolve().parent.parent

# Scenarios closeboard's client must pass. Left out, with the reason:
# - auth/basic-cimd: URL-based client ids (client metadata documents) need an HTTPS document closeboard
#   does not host; closeboard registers dynamically or uses a pre-registered client.
# - auth/client-credentials-jwt, auth/cross-app-access-complete-flow: private_key_jwt and enterprise
#   ID-JAG grants are not closeboard auth kinds.
# - auth/2025-03-26-oauth-metadata-backcompat: mcp 2.3 validates the metadata's issuer (RFC 8414 §3.3,
#   SEP-2468) and refuses this legacy server's (issuer ".../oauth" served at the origin's well-known URL);
#   the error is raised in the SDK's own discovery (`validate_metadata_issuer`), which closeboard does not change.
# - draft-only scenarios other than offline-access-scope (kept: closeboard's scope narrowing must keep
#   offline_access): not part of a released protocol version.
# (Step-up runs here in the interactive mode of `closeboard auth login`; a pipeline run never widens its
# scopes, it fails with "run `closeboard auth login SOURCE`".)
SCENARIOS = (
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/offline-access-scope",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
    "auth/2025-03-26-oauth-endpoint-fallback",
    "auth/client-credentials-basic",
)


# -- the client under test -------------------------------------------------------------------------


async def _client(url: str, scenario: str, context: dict, home: Path) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import AuthorizationCodeResult

    from connectors.auth import connection_auth
    from connectors.config import AuthConfig, ConnectorConfig, ServerConfig

    os.environ["CONFORMANCE_CLIENT_SECRET"] = context.get("client_secret") or ""
    if scenario == "auth/client-credentials-basic":
        auth = AuthConfig(
            kind="client_credentials", client_id=context["client_id"], client_secret="${CONFORMANCE_CLIENT_SECRET}"
        )
    elif context.get("client_id"):
        auth = AuthConfig(
            kind="oauth",
            client_id=context["client_id"],
            client_secret="${CONFORMANCE_CLIENT_SECRET}" if context.get("client_secret") else None,
        )
    else:
        auth = AuthConfig(kind="oauth")
    connector = ConnectorConfig(
        name="conformance", adapter="builtin.bank", server=ServerConfig(url=url), allow_tools=(), auth=auth
    )
    got: dict[str, AuthorizationCodeResult] = {}

    async def redirect(authorization_url: str) -> None:  # the person consents: follow the redirect
        async with httpx2.AsyncClient() as http:
            response = await http.get(authorization_url)
        query = parse_qs(urlparse(response.headers["location"]).query)
        got["result"] = AuthorizationCodeResult(
            code=query["code"][0], state=(query.get("state") or [None])[0], iss=(query.get("iss") or [None])[0]
        )

    async def callback() -> AuthorizationCodeResult:
        return got["result"]

    _, provider = connection_auth(
        connector, home, interactive=True, redirect_handler=redirect, callback_handler=callback
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=30) as client:
            tools = (await client.list_tools()).tools
            if tools:
                await client.call_tool(tools[0].name, {}, read_timeout_seconds=30)


def main(argv: list[str]) -> int:
    import anyio

    url = argv[-1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    with tempfile.TemporaryDirectory(prefix="closeboard-conformance-") as home:
        anyio.run(_client, url, scenario, context, Path(home))
    return 0


# -- the tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conformance_suite() -> Path:
    from tests.conformance import ensure

    return ensure()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_closeboard_oauth_client_passes_the_auth_scenario(scenario: str, conformance_suite: Path) -> None:
    from tests.conformance import run_scenario

    result = run_scenario(
        "client",
        scenario,
        command=f"{sys.executable} -m tests.test_conformance_client",
        timeout=120,
        env={"PYTHONPATH": str(REPO)},
    )
    assert result.ok, (
        f"scenario {scenario} failed (exit {result.returncode}): "
        f"{[(c.get('id'), c.get('status'), c.get('errorMessage')) for c in result.failed]}\n{result.output[-3000:]}"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
