"""A local stand-in for what ``@stripe/mcp`` 0.3.3 talks to.

What the npm package is (read from its ``dist/index.js``, ``cli.js``, ``userAgent.js``): not a Stripe
API client but a *proxy*. It takes ``--api-key=`` (or ``STRIPE_SECRET_KEY``; ``sk_*`` or ``rk_*``) and
``--stripe-account=acct_*``, serves MCP on stdio, and forwards every JSON-RPC message unchanged, with
the MCP SDK's ``StreamableHTTPClientTransport``, to Stripe's hosted MCP server ``https://mcp.stripe.com``
(path ``/``), sending ``Authorization: Bearer <key>``, ``User-Agent: stripe-mcp-local/0.3.1 (<MCP
client name>)`` and ``Stripe-Account`` when set. It never calls ``api.stripe.com`` itself, and the tool
list, schemas and answers are the hosted server's.

So this stand-in is of *that* interface: an MCP server (streamable HTTP at ``/``) with the hosted
server's tools. Stripe documents their names and purpose at https://docs.stripe.com/mcp#tools but
publishes no schemas there; the last published source of the tools is the Stripe agent toolkit,
``stripe/ai`` commit dd624f517802fd51e9ae9f7671b5148a5350dc71 (Feb 2026, unchanged since 57599ddf),
``tools/typescript/src/shared/<resource>/<tool>.ts`` run by ``shared/api.ts``, just before the toolkit
itself became a client of mcp.stripe.com. Reproduced here from that source:

- ``retrieve_balance {}`` -> ``stripe.balance.retrieve()`` (``GET /v1/balance``); the tool answers one
  text content ``JSON.stringify(balance)``: ``{object: "balance", available: [{amount, currency,
  source_types}], connect_reserved, livemode, pending: [...]}`` (amounts in minor units);
- ``list_payment_intents {customer?, limit? (int 1..100)}`` -> ``GET /v1/payment_intents``; the tool
  answers ``JSON.stringify(list.data)``: the bare array, no ``has_more``, no cursor argument;
- ``create_refund {payment_intent, amount?}`` (a write: recorded here and never executed);
- any Stripe API failure is caught and answered as ``JSON.stringify("Failed to retrieve balance")``
  (``"Failed to list payment intents"``), a JSON *string*, not flagged ``isError``.
- There is no tool for balance transactions, charges, refunds lists or payouts.

Behind the tools, ``StripeAPI`` answers the REST endpoints they call as Stripe's OpenAPI spec
(``stripe/openapi``, ``spec3.json``) and API reference describe: list objects ``{object: "list", data,
has_more, url}`` newest first with ``limit`` 1..100 (default 10), amounts as integers of the currency's
minor unit, times as Unix seconds, and errors as ``{error: {type, message, code?}}`` with 401 for an
unknown key and 403 for a restricted key lacking the permission.

MCP-level auth: a request to the MCP endpoint whose bearer is not a key this account knows is answered
401 (as an OAuth-protected MCP server does) before any tool runs. Every MCP HTTP request's headers and
every tool call are recorded (``http``, ``calls``) for the tests.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field

READ = ToolAnnotations(destructive_hint=False, idempotent_hint=True, open_world_hint=True, read_only_hint=True)

# the toolkit's descriptions (``...Prompt(context)`` with an empty context), verbatim
RETRIEVE_BALANCE_PROMPT = "\nThis tool will retrieve the balance from Stripe. It takes no input.\n"
LIST_PAYMENT_INTENTS_PROMPT = (
    "\nThis tool will list payment intents in Stripe.\n\nIt takes two arguments:\n"
    "- customer (str, optional): The ID of the customer to list payment intents for.\n\n"
    "- limit (int, optional): The number of payment intents to return.\n"
)
CREATE_REFUND_PROMPT = (
    "\nThis tool will refund a payment intent in Stripe.\n\nIt takes three arguments:\n"
    "- payment_intent (str): The ID of the payment intent to refund.\n"
    "- amount (int, optional): The amount to refund in cents.\n"
    "- reason (str, optional): The reason for the refund.\n"
)


@dataclass
class StripeAPI:
    """Stripe's REST API for one account, as far as the tools above call it."""

    key: str
    account: str = "acct_1CloseboardTest"
    balance: dict[str, Any] = field(default_factory=dict)
    payment_intents: list[dict[str, Any]] = field(default_factory=list)  # any order; listed newest first
    permissions: set[str] = field(default_factory=lambda: {"rak_balance_read", "rak_payment_intent_read"})

    def _error(self, status: int, message: str, code: str | None = None) -> tuple[int, dict[str, Any]]:
        error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
        if code:
            error["code"] = code
        return status, {"error": error}

    def _auth(self, key: str, permission: str) -> tuple[int, dict[str, Any]] | None:
        if key != self.key:
            return self._error(401, f"Invalid API Key provided: {key[:8]}{'*' * max(len(key) - 12, 4)}{key[-4:]}")
        if key.startswith("rk_") and permission not in self.permissions:
            return self._error(
                403,
                f"The provided key '{key[:8]}***{key[-4:]}' does not have the required permissions for this "
                f"endpoint on account '{self.account}'. Having the '{permission}' permission would allow this "
                "request to continue.",
            )
        return None

    def get(self, path: str, params: dict[str, Any], key: str) -> tuple[int, dict[str, Any]]:
        if path == "/v1/balance":
            return self._auth(key, "rak_balance_read") or (200, self.balance)
        if path == "/v1/payment_intents":
            denied = self._auth(key, "rak_payment_intent_read")
            if denied:
                return denied
            limit = params.get("limit", 10)
            if not isinstance(limit, int) or not 1 <= limit <= 100:
                return self._error(
                    400,
                    "This value must be greater than or equal to 1 and less than or equal to 100.",
                    "parameter_invalid_integer",
                )
            rows = sorted(self.payment_intents, key=lambda p: (p["created"], p["id"]), reverse=True)
            if params.get("customer"):
                rows = [p for p in rows if p.get("customer") == params["customer"]]
            return 200, {
                "object": "list",
                "data": rows[:limit],
                "has_more": len(rows) > limit,
                "url": "/v1/payment_intents",
            }
        return self._error(404, f"Unrecognized request URL (GET: {path}).")


def _replay(body: bytes, receive: Any) -> Any:
    """An ASGI `receive` that yields the already-read request body once, then defers to `receive`."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def again() -> dict[str, Any]:
        return pending.pop() if pending else await receive()

    return again


class StripeMCPStandIn:
    """``with StripeMCPStandIn(api) as hosted: hosted.url`` -> http://127.0.0.1:PORT (MCP at ``/``)."""

    def __init__(self, api: StripeAPI) -> None:
        self.api = api
        self.http: list[dict[str, Any]] = []  # per MCP HTTP request: method, path, selected headers
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._current_key = ""  # the bearer of the request being served (one account, one key)

    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    # -- the hosted server's tools ------------------------------------------------------------
    def _run(self, tool: str, arguments: dict[str, Any], path: str, failure: str, pick: Any) -> str:
        """``StripeAPI.run``: ``JSON.stringify(await tool.execute(...))``, a failure caught as its string."""
        self.calls.append((tool, arguments))
        status, body = self.api.get(path, {k: v for k, v in arguments.items() if v is not None}, self._current_key)
        return json.dumps(pick(body) if status == 200 else failure, separators=(",", ":"))

    def build(self) -> MCPServer:
        server = MCPServer("Stripe", instructions="Stripe MCP server (closeboard test stand-in of mcp.stripe.com)")

        @server.tool(
            name="retrieve_balance",
            description=RETRIEVE_BALANCE_PROMPT,
            annotations=ToolAnnotations(
                title="Retrieve balance", **READ.model_dump(exclude_none=True, exclude={"title"})
            ),
            structured_output=False,
        )
        def retrieve_balance() -> str:
            return self._run("retrieve_balance", {}, "/v1/balance", "Failed to retrieve balance", lambda b: b)

        @server.tool(
            name="list_payment_intents",
            description=LIST_PAYMENT_INTENTS_PROMPT,
            annotations=ToolAnnotations(
                title="List payment intents", **READ.model_dump(exclude_none=True, exclude={"title"})
            ),
            structured_output=False,
        )
        def list_payment_intents(
            customer: Annotated[
                str | None, Field(description="The ID of the customer to list payment intents for.")
            ] = None,
            limit: Annotated[
                int | None,
                Field(
                    ge=1,
                    le=100,
                    description="A limit on the number of objects to be returned. Limit can range between 1 and 100.",
                ),
            ] = None,
        ) -> str:
            return self._run(
                "list_payment_intents",
                {"customer": customer, "limit": limit},
                "/v1/payment_intents",
                "Failed to list payment intents",
                lambda b: b["data"],
            )

        @server.tool(
            name="create_refund",
            description=CREATE_REFUND_PROMPT,
            annotations=ToolAnnotations(
                title="Create refund",
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=True,
                read_only_hint=False,
            ),
            structured_output=False,
        )
        def create_refund(
            payment_intent: Annotated[str, Field(description="The ID of the PaymentIntent to refund.")],
            amount: Annotated[int | None, Field(description="The amount to refund in cents.")] = None,
            reason: Annotated[str | None, Field(description="The reason for the refund.")] = None,
        ) -> str:
            self.calls.append(("create_refund", {"payment_intent": payment_intent, "amount": amount}))
            return json.dumps("Failed to create refund")  # never executed here

        return server

    # -- serving ------------------------------------------------------------------------------
    def _app(self) -> Any:
        inner = self.build().streamable_http_app(
            streamable_http_path="/",
            host="127.0.0.1",
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=True, allowed_hosts=["127.0.0.1:*"], allowed_origins=[]
            ),
        )
        standin = self

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            standin.http.append(
                {
                    "method": scope["method"],
                    "path": scope["path"],
                    **{
                        k: headers.get(k) for k in ("authorization", "user-agent", "stripe-account", "x-forwarded-host")
                    },
                }
            )
            auth = headers.get("authorization", "")
            key = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
            if key != standin.api.key:
                standin.http[-1]["status"] = 401
                body = json.dumps(
                    {"error": "invalid_token", "error_description": "The access token is invalid"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (
                                b"www-authenticate",
                                b'Bearer error="invalid_token", error_description="The access token is invalid"',
                            ),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            standin._current_key = key
            record = standin.http[-1]
            if scope["method"] == "POST" and "mcp-session-id" not in headers:
                # a handshake-era (2025-06-18) server: without a session only `initialize` is served; the
                # rest is refused 400 *without* opening a session (the SDK here would otherwise hand out
                # an Mcp-Session-Id on the refusal, which the proxy's client keeps and then fails on)
                chunks, more = [], True
                while more:
                    message = await receive()
                    chunks.append(message.get("body", b""))
                    more = message.get("more_body", False)
                raw = b"".join(chunks)
                try:
                    method = json.loads(raw).get("method")
                except (json.JSONDecodeError, AttributeError):
                    method = None
                record["rpc"] = method
                if method != "initialize":
                    record["status"] = 400
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 400,
                            "headers": [(b"content-type", b"application/json")],
                        }
                    )
                    await send(
                        {
                            "type": "http.response.body",
                            "body": json.dumps(
                                {
                                    "jsonrpc": "2.0",
                                    "error": {"code": -32000, "message": "Bad Request: Server not initialized"},
                                    "id": None,
                                }
                            ).encode(),
                        }
                    )
                    return
                receive = _replay(raw, receive)

            async def sending(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    record["status"] = message["status"]
                elif message["type"] == "http.response.body" and record.get("status", 200) >= 400:
                    record["error"] = record.get("error", b"") + message.get("body", b"")
                await send(message)

            await inner(scope, receive, sending)

        return app

    def __enter__(self) -> StripeMCPStandIn:
        config = uvicorn.Config(self._app(), log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="stripe-mcp-standin", daemon=True
        )
        self._thread.start()
        for _ in range(500):  # until uvicorn has started (lifespan done), at most ~5 s
            if self._server.started:
                break
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
