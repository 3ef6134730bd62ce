"""`stripe`: a Stripe account as a bank-like feed (bank_accounts, bank_balances; bank_transactions
only from a server that lists balance transactions).

What Stripe's own MCP server gives (proven in tests/connectors/test_adapters_stripe_server.py):
npm ``@stripe/mcp`` 0.3.3 is not a Stripe API client but a stdio proxy: it forwards every MCP
message, unchanged, to Stripe's hosted server ``https://mcp.stripe.com`` (streamable HTTP, the key
as ``Authorization: Bearer``; ``--stripe-account`` as ``Stripe-Account``), so its tools are the hosted
server's. Their names are listed at https://docs.stripe.com/mcp#tools; their last published source
is the agent toolkit, ``stripe/ai`` commit dd624f517802fd51e9ae9f7671b5148a5350dc71
(``tools/typescript/src/shared/*``, unchanged since 57599ddf), and it says:

- every tool answers one text content, ``JSON.stringify(<Stripe API result>)``: Stripe objects
  with amounts as *integers of the currency's minor unit* (cents; none for zero-decimal currencies
  such as JPY, thousandths for BHD/JOD/KWD/OMR/TND) and times as Unix seconds;
- ``retrieve_balance {}`` (read-only) answers the Balance object ``{object: "balance", available:
  [{amount, currency, source_types}], pending: [...], livemode}``: **the only bank data Stripe's own
  server gives** — per currency, what the Stripe balance holds now (no date of its own);
- its list tools (``list_payment_intents``, ``list_invoices``, ``list_customers``, ...) take ``limit``
  1..100 and *no cursor*, and answer the bare ``.data`` array with no ``has_more``; none lists balance
  transactions, charges, refunds or payouts. Payment intents are not bank lines (gross of fees, dated
  when the customer paid, not when funds moved in the balance), so they are not read as such;
- a failure is answered as the JSON *string* ``"Failed to retrieve balance"``, not flagged
  ``isError``; ``decode`` turns such a string into an error;
- writes it exposes (``create_refund``, ``create_invoice``, ``cancel_subscription``, ...) are never
  declared here: a config that allow-lists one is refused at load.

So with Stripe's own server allow-list ``[retrieve_balance]``: the adapter reads ``bank_accounts`` and
``bank_balances`` and does not read ``bank_transactions`` (the pull empties that table and records
it as not read; nothing pretends to be a complete feed). ``bank_transactions`` is read only when
``options.transactions_tool`` (default ``list_balance_transactions``) is allow-listed, from a server
that has such a tool — a community Stripe MCP server or a proxy of ``GET /v1/balance_transactions``.
That path is **unproven against any real server**: no published server's code was run against it
here; its mapping and paging are tested against closeboard's own fakes only.

Stripe's own server has no balance-transactions list; Stripe's REST API has
``GET /v1/balance_transactions`` (``limit`` <= 100, ``starting_after``, ``created[gte|lt]``, newest
first, ``{object: "list", data, has_more}``). This adapter reads balance transactions from the tool
``options.transactions_tool`` (default ``list_balance_transactions``) of whichever server exposes
them (a Stripe MCP build or proxy that does), and pages by what that tool's input schema offers
(``options.paging``, default ``auto``, read from ``tools/list``):

- ``starting_after``: the last id of each page until ``has_more`` is false (or, for a bare array,
  a page shorter than the limit);
- ``created``: windows of ``created: {gte, lt}`` (Unix seconds) from ``options.since`` to now; a
  window that comes back full (``limit`` items, or ``has_more``) is split in half and read again,
  so nothing is cut at 100;
- a bare array carries no ``has_more`` or count, so a server capping its pages below ``limit``
  would pass for a short last page: when the *first* page (``starting_after``) or first window
  (``created``) comes back short and not empty, one more call for what lies beyond its last item
  (after its last id; the rest of the window past its oldest, in the order it lists) must come
  back empty, else the pull fails saying the server caps pages at N (set ``options.page_size``);
- ``none``: one call; if it comes back full the pull fails naming the tool — the rest could not
  be read, and a silently truncated feed would show up only as a reconciliation gap.

Mapping. One account per balance currency: ``bank_account_id`` ``stripe:<currency>`` (lower case,
as Stripe writes it), name "Stripe USD", ``gl_account_id`` from ``options.gl_accounts`` (per
currency) or ``options.gl_account_id`` (all); a currency with neither is quarantined. A balance
transaction (``{id, amount, fee, net, currency, created, type, description, source, status}``) is
booked on its ``created`` date in ``options.timezone`` (default UTC), amounts divided exactly by the
currency's minor unit. Fees (``options.fees``): ``split`` (default) gives the gross ``amount`` under
the transaction id and, when ``fee`` is not zero, a second line ``<id>:fee`` of ``-fee``, so a ledger
that books the sale gross and the Stripe fee as an expense (how Stripe's payouts reconcile in most
ledgers, and how R2 matches line by line) matches both lines, and an unbooked fee shows as a
bank-only charge; ``net`` gives one line of ``net`` for a ledger that books Stripe net of fees.
Either way the lines of a transaction sum to its ``net``, which is what moves the Stripe balance.
``bank_balances``: one row per currency, ``available + pending``, dated the day of the pull in
``options.timezone`` (the Balance object is "now"; it has no date of its own). A transaction whose
amounts are not integers or whose ``net`` differs from ``amount - fee`` is quarantined.

Config::

    bank:
      adapter: stripe
      server: {command: npx, args: [-y, "@stripe/mcp@0.3.3", "--api-key=${STRIPE_RESTRICTED_KEY}"]}
      allow_tools: [retrieve_balance]          # Stripe's own server: balances only
      options: {gl_accounts: {usd: "1030"}, timezone: UTC}

    # a server that also lists balance transactions (unproven, see above):
      allow_tools: [retrieve_balance, list_balance_transactions]
      options: {gl_accounts: {usd: "1030"}, fees: split, timezone: UTC, since: "2024-01-01"}
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.adapters.base import Adapter, Mapped, Stream, item_json, to_text_batch
from connectors.adapters.paging import Envelope, NoPaging
from connectors.adapters.text import result_text
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

BALANCE_TOOL = "retrieve_balance"
TRANSACTIONS_TOOL = "list_balance_transactions"
LIMIT_MAX = 100
PAGING_MODES = ("auto", "starting_after", "created", "none")
DEFAULT_SINCE = date(2011, 1, 1)  # before any Stripe balance transaction a closeboard user will have
# Stripe's currency minor units (https://docs.stripe.com/currencies#zero-decimal, #three-decimal)
ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


def minor_units(currency: str) -> int:
    c = currency.lower()
    return 0 if c in ZERO_DECIMAL else 3 if c in THREE_DECIMAL else 2


def from_minor(amount: int, currency: str) -> str:
    """Integer minor units -> exact decimal text (1050 usd -> "10.50", 500 jpy -> "500")."""
    places = minor_units(currency)
    return format(Decimal(amount).scaleb(-places), "f")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# A tool named in options must read by its name: the options choose which read, never a write
# (`create_refund`, `update_payout`...), since whatever they name becomes a declared read tool.
_READ_NAME = re.compile(r"(list|retrieve|get|search|fetch|read)_[a-z0-9_]+")


def _read_tool(options: dict[str, Any], key: str, default: str) -> str:
    name = str(options.get(key, default))
    if not _READ_NAME.fullmatch(name):
        raise ValueError(
            f"options.{key}: {name!r} is not named as a read tool (list_*, retrieve_*, get_*, "
            "search_*, fetch_*, read_*); closeboard never calls anything else"
        )
    return name


class StripeAdapter(Adapter):
    name = "stripe"
    default_tools = (BALANCE_TOOL,)  # all that Stripe's own server has for a bank feed
    options = (
        "gl_account_id",
        "gl_accounts",
        "fees",
        "timezone",
        "since",
        "transactions_tool",
        "balance_tool",
        "paging",
        "page_size",
    )

    def __init__(self) -> None:
        self.gl_default: str | None = None
        self.gl_accounts: dict[str, str] = {}
        self.fees = "split"
        self.zone: ZoneInfo = ZoneInfo("UTC")
        self.since: date | None = None
        self.transactions_tool = TRANSACTIONS_TOOL
        self.balance_tool = BALANCE_TOOL
        self.paging = "auto"
        self.page_size = LIMIT_MAX
        self.read_transactions = False

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        o = config.options
        default = o.get("gl_account_id")
        accounts = o.get("gl_accounts", {})
        if not isinstance(accounts, dict) or not all(isinstance(v, str | int) for v in accounts.values()):
            raise ValueError('options.gl_accounts: a map of currency -> ERP account id, e.g. {usd: "1030"}')
        if default is None and not accounts:
            raise ValueError(
                "set options.gl_account_id (or gl_accounts per currency): the ERP account the Stripe balance is booked to"
            )
        self.gl_default = str(default) if default is not None else None
        self.gl_accounts = {str(k).lower(): str(v) for k, v in accounts.items()}
        self.fees = str(o.get("fees", "split"))
        if self.fees not in ("split", "net"):
            raise ValueError(f"options.fees: 'split' (gross line + fee line) or 'net' (one line), got {self.fees!r}")
        try:
            self.zone = ZoneInfo(str(o.get("timezone", "UTC")))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"options.timezone: unknown time zone {o.get('timezone')!r}") from None
        since = o.get("since")
        try:
            self.since = date.fromisoformat(str(since)) if since is not None else None
        except ValueError:
            raise ValueError(f"options.since: an ISO date, got {since!r}") from None
        self.transactions_tool = _read_tool(o, "transactions_tool", TRANSACTIONS_TOOL)
        self.balance_tool = _read_tool(o, "balance_tool", BALANCE_TOOL)
        self.paging = str(o.get("paging", "auto"))
        if self.paging not in PAGING_MODES:
            raise ValueError(f"options.paging: one of {list(PAGING_MODES)}, got {self.paging!r}")
        size = o.get("page_size", LIMIT_MAX)
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= LIMIT_MAX:
            raise ValueError(f"options.page_size: an integer 1..{LIMIT_MAX} (Stripe's list limit)")
        self.page_size = size
        # balance transactions only from a server that lists them and a config that allow-lists that tool
        self.read_transactions = self.transactions_tool in config.allow_tools

    def read_tools(self) -> frozenset[str]:
        return frozenset({self.balance_tool, self.transactions_tool})

    def streams(self) -> list[Stream]:
        streams = [Stream("bank_accounts", self.balance_tool, paging=NoPaging())]
        if self.read_transactions:
            streams.append(Stream("bank_transactions", self.transactions_tool))
        return [*streams, Stream("bank_balances", self.balance_tool, paging=NoPaging())]

    # -- reading answers --------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        text = result_text(result, limit_bytes=limit_bytes)
        try:
            payload = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            if text.lstrip().lower().startswith(("error", "failed")):
                raise ValueError(f"the server reported an error: {text.strip()[:500]}") from None
            raise ValueError(f"response is not JSON ({exc.msg} at char {exc.pos}): {text[:120]!r}") from None
        if isinstance(payload, str):  # the toolkit's failure answer: JSON.stringify("Failed to ...")
            raise ValueError(f"the server reported an error: {payload[:500]}")
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict | str):  # a Stripe API error object
            error = payload["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise ValueError(f"the server reported an error: {message}")
        return payload, len(text)

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        if stream.tool == self.balance_tool and stream.table != "bank_transactions":
            return Envelope(self._balances(payload))
        items, _ = self._list(payload)
        return Envelope(items)

    @staticmethod
    def _list(payload: Any) -> tuple[list[Any], bool | None]:
        """A list answer: a bare array (the toolkit's ``.data``) or Stripe's list object; and its
        ``has_more`` when it says (None: it does not)."""
        if isinstance(payload, list):
            return payload, None
        if isinstance(payload, dict) and isinstance(payload.get("data"), list):
            more = payload.get("has_more")
            return payload["data"], bool(more) if isinstance(more, bool) else None
        raise ValueError('the answer is neither a list of balance transactions nor {object: "list", data, has_more}')

    def _balances(self, payload: Any) -> list[dict[str, Any]]:
        """Per currency: available + pending, in minor units."""
        if not isinstance(payload, dict) or not isinstance(payload.get("available"), list):
            raise ValueError("the answer is not a Stripe Balance object {available: [...], pending: [...]}")
        totals: dict[str, int] = {}
        for part in ("available", "pending"):
            for entry in payload.get(part) or []:
                if (
                    not isinstance(entry, dict)
                    or not isinstance(entry.get("currency"), str)
                    or not _is_int(entry.get("amount"))
                ):
                    raise ValueError(f"balance {part} entry {entry!r:.120} has no integer amount and currency")
                cur = entry["currency"].lower()
                totals[cur] = totals.get(cur, 0) + entry["amount"]
        return [{"currency": c, "amount": a} for c, a in sorted(totals.items())]

    # -- paging the transactions --------------------------------------------------------------
    async def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        if stream.table != "bank_transactions":
            async for page in stream.pager.pages(session, self, stream):
                yield page
            return
        mode = self.paging if self.paging != "auto" else await self._detect(session)
        if mode == "starting_after":
            pages = self._by_cursor(session, stream)
        elif mode == "created":
            pages = self._by_windows(session, stream)
        else:
            pages = self._single(session, stream)
        async for page in pages:
            yield page

    async def _detect(self, session: SourceSession) -> str:
        tools = {t.name: t for t in await session.list_tools()}
        tool = tools.get(self.transactions_tool)
        if tool is None:
            raise ConnectorError(
                session.name,
                self.transactions_tool,
                "the server has no such tool (Stripe's own MCP server lists no balance transactions: "
                "point options.transactions_tool at a server tool that does)",
            )
        schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
        properties = schema.get("properties") or {}
        if "starting_after" in properties:
            return "starting_after"
        if "created" in properties:
            return "created"
        return "none"

    async def _call(
        self, session: SourceSession, stream: Stream, arguments: dict[str, Any], number: int
    ) -> tuple[list[Any], bool | None, int]:
        payload, nbytes = await session.call(
            self.transactions_tool, arguments, page=number, decode=lambda r, **kw: self.decode(stream, r, **kw)
        )
        try:
            items, more = self._list(payload)
        except ValueError as exc:
            raise ConnectorError(session.name, self.transactions_tool, f"page {number}: {exc}") from None
        if len(items) > self.page_size:
            raise ConnectorError(
                session.name,
                self.transactions_tool,
                f"page {number} holds {len(items)} items, more than limit {self.page_size}",
            )
        return items, more, nbytes

    def _full(self, items: list[Any], more: bool | None) -> bool:
        return bool(more) if more is not None else len(items) >= self.page_size

    def _since_ts(self) -> int:
        start = self.since or DEFAULT_SINCE
        return int(datetime(start.year, start.month, start.day, tzinfo=self.zone).timestamp())

    async def _single(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        items, more, nbytes = await self._call(session, stream, {"limit": self.page_size}, 1)
        if self._full(items, more):
            raise ConnectorError(
                session.name,
                self.transactions_tool,
                f"returned {len(items)} balance transactions, the most one call returns, and the tool takes "
                "neither starting_after nor created: the rest cannot be read (use a tool that pages)",
            )
        yield Page(items, None, None, None, 1, nbytes)

    async def _by_cursor(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        arguments: dict[str, Any] = {"limit": self.page_size}
        if self.since is not None:
            arguments["created"] = {"gte": self._since_ts()}
        seen: set[str] = set()
        for number in range(1, session.config.client.max_pages + 1):
            items, more, nbytes = await self._call(session, stream, arguments, number)
            last = items[-1].get("id") if items and isinstance(items[-1], dict) else None
            if number == 1 and more is None and 0 < len(items) < self.page_size and isinstance(last, str):
                # a bare array says nothing of the rest: a short first page is everything or the server's
                # own cap on a page; one more call after its last item tells which
                rest, _, _ = await self._call(session, stream, dict(arguments, starting_after=last), number + 1)
                if rest:
                    raise self._capped(session, len(items), f"after {last} it still lists {len(rest)} more")
            yield Page(items, None, None, None, number, nbytes)
            if not items or not self._full(items, more):
                return
            if not isinstance(last, str) or last in seen:
                raise ConnectorError(
                    session.name, self.transactions_tool, f"page {number}: cannot page on from its last item ({last!r})"
                )
            seen.add(last)
            arguments = dict(arguments, starting_after=last)
        raise ConnectorError(session.name, self.transactions_tool, f"more than {session.config.client.max_pages} pages")

    async def _by_windows(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        """Windows of ``created`` from ``since`` to now; a full window is split in two and re-read."""
        windows = [(self._since_ts(), int(datetime.now(UTC).timestamp()) + 1)]
        number = 0
        while windows:
            low, high = windows.pop()
            number += 1
            if number > session.config.client.max_pages:
                raise ConnectorError(
                    session.name, self.transactions_tool, f"more than {session.config.client.max_pages} calls"
                )
            args = {"limit": self.page_size, "created": {"gte": low, "lt": high}}
            items, more, nbytes = await self._call(session, stream, args, number)
            if self._full(items, more):
                if high - low <= 1:
                    raise ConnectorError(
                        session.name,
                        self.transactions_tool,
                        f"{len(items)} balance transactions in the one second starting {low}: more than one call returns",
                    )
                middle = (low + high) // 2
                windows += [(middle, high), (low, middle)]  # earlier half next
                continue
            page_number = number
            if number == 1 and more is None and items:  # the first window, short: everything, or capped?
                number = await self._check_window(session, stream, low, high, items, number)
            yield Page(items, None, None, None, page_number, nbytes)

    def _capped(self, session: SourceSession, count: int, evidence: str) -> ConnectorError:
        return ConnectorError(
            session.name,
            self.transactions_tool,
            f"the server caps pages at {count}: asked for {self.page_size} balance transactions, the first page "
            f"held {count}, yet {evidence}; set options.page_size to {count}",
        )

    async def _check_window(
        self, session: SourceSession, stream: Stream, low: int, high: int, items: list[Any], number: int
    ) -> int:
        """A short first window is complete only if nothing lies past its last item in the order the
        server lists (Stripe's: newest first): read the part of the window beyond it, which must be
        empty (both sides when the order cannot be told). Returns the last call number used."""
        created = [t.get("created") for t in items if isinstance(t, dict)]
        if len(created) != len(items) or not all(_is_int(c) for c in created):
            return number  # such items are quarantined when mapped; nothing to place them by
        newest_first = all(a >= b for a, b in zip(created, created[1:], strict=False))
        oldest_first = all(a <= b for a, b in zip(created, created[1:], strict=False))
        beyond = []
        if newest_first or not oldest_first:
            beyond.append((low, min(created)))
        if oldest_first or not newest_first:
            beyond.append((max(created) + 1, high))
        for start, end in beyond:
            if start >= end:
                continue
            number += 1
            rest, _, _ = await self._call(
                session, stream, {"limit": self.page_size, "created": {"gte": start, "lt": end}}, number
            )
            if rest:
                raise self._capped(
                    session,
                    len(items),
                    f"the rest of that window (created {start} to {end}) still lists {len(rest)} more",
                )
        return number

    # -- mapping ------------------------------------------------------------------------------
    def _gl(self, currency: str) -> str | None:
        return self.gl_accounts.get(currency.lower(), self.gl_default)

    def _today(self) -> str:
        return datetime.now(self.zone).date().isoformat()

    def _transaction(self, txn: Any) -> list[dict[str, Any]] | str:
        if not isinstance(txn, dict) or not isinstance(txn.get("id"), str):
            return "not a balance transaction with an id"
        currency = txn.get("currency")
        if not isinstance(currency, str) or not currency:
            return "no currency"
        amount, fee, net = txn.get("amount"), txn.get("fee", 0), txn.get("net")
        if not _is_int(amount) or not _is_int(fee) or (net is not None and not _is_int(net)):
            return f"amount/fee/net must be integers of minor units, got {amount}/{fee}/{net}"
        if net is not None and net != amount - fee:
            return f"net {net} is not amount {amount} - fee {fee}"
        created = txn.get("created")
        if not _is_int(created):
            return f"created {created!r} is not a Unix timestamp"
        booked = datetime.fromtimestamp(created, UTC).astimezone(self.zone).date().isoformat()
        account = f"stripe:{currency.lower()}"
        source = txn.get("source")
        reference = source.get("id") if isinstance(source, dict) else source
        kind = txn.get("type") or "transaction"
        description = f"{kind}: {txn['description']}" if txn.get("description") else kind
        base = {
            "bank_account_id": account,
            "booked_date": booked,
            "reference": reference if isinstance(reference, str) else None,
        }
        if self.fees == "net":
            return [dict(base, txn_id=txn["id"], amount=from_minor(amount - fee, currency), description=description)]
        rows = [dict(base, txn_id=txn["id"], amount=from_minor(amount, currency), description=description)]
        if fee:
            details = txn.get("fee_details")
            names = (
                [d.get("description") or d.get("type") for d in details if isinstance(d, dict)]
                if isinstance(details, list)
                else []
            )
            label = ", ".join(n for n in names if isinstance(n, str)) or "fees"
            rows.append(
                dict(
                    base,
                    txn_id=f"{txn['id']}:fee",
                    amount=from_minor(-fee, currency),
                    description=f"Stripe fee on {txn['id']}: {label}",
                )
            )
        return rows

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        rows: list[dict[str, Any]] = []
        rejected: list[tuple[str, str]] = []
        for item in items:
            if stream.table == "bank_transactions":
                mapped = self._transaction(item)
                if isinstance(mapped, str):
                    ident = item.get("id") if isinstance(item, dict) else None
                    rejected.append((item_json(item), f"Stripe balance transaction {ident or '?'}: {mapped}"))
                else:
                    rows.extend(mapped)
                continue
            currency = item["currency"]
            account = f"stripe:{currency}"
            if stream.table == "bank_balances":
                rows.append(
                    {
                        "bank_account_id": account,
                        "balance_date": self._today(),
                        "closing_balance": from_minor(item["amount"], currency),
                    }
                )
                continue
            gl = self._gl(currency)
            if gl is None:
                rejected.append(
                    (
                        item_json(item),
                        f"Stripe balance in {currency}: no ERP account for it "
                        f"(add {currency} under options.gl_accounts, or set options.gl_account_id)",
                    )
                )
                continue
            rows.append(
                {
                    "bank_account_id": account,
                    "name": f"Stripe {currency.upper()}",
                    "currency": currency.upper(),
                    "gl_account_id": gl,
                }
            )
        return Mapped(to_text_batch(stream.table, rows), rejected)
