"""`sql`: any SQL MCP server, with the query per canonical table written in config.

For teams whose ERP or CRM exports land in a database. The reference server is
``mcp-server-sqlite`` (modelcontextprotocol/servers, later servers-archived, ``src/sqlite``;
PyPI ``mcp-server-sqlite`` 2025.4.25, ``mcp_server_sqlite/server.py``), read from its source:

- tools ``read_query {query}`` (refuses anything not starting with ``SELECT``), ``list_tables {}``,
  ``describe_table {table_name}``; and the writes ``write_query``, ``create_table``,
  ``append_insight``, which this adapter never declares, so a config that allow-lists them is
  refused and they are never called;
- every answer is one text content holding ``str(results)`` where results is
  ``[dict(row) for row in cursor.fetchall()]``: a *Python repr* of a list of dicts (``None``,
  ints, floats, strings, bytes), not JSON, no structured content;
- a failure is answered as text ``"Database error: ..."`` or ``"Error: ..."`` with ``isError``
  false (the client detects both, ``connectors.client.reported_error``);
- no paging: one call returns every row. This adapter pages in the query text instead:
  ``SELECT count(*) AS n FROM (<query>)`` first, then ``SELECT * FROM (<query>) ORDER BY <key>
  LIMIT n OFFSET m`` until the count is reached, and fails if the rows read differ from the count
  (the table changed during the pull: the step is retried).
The server needs ``mcp<2`` and runs in its own environment:
``uvx --with "mcp<2" --from mcp-server-sqlite mcp-server-sqlite --db-path FILE``.

Config (``options``)::

    erp:
      adapter: sql
      server: {command: uvx, args: [--with, "mcp<2", --from, mcp-server-sqlite, mcp-server-sqlite,
                                    --db-path, "${CLOSEBOARD_HOME}/exports/erp.sqlite"]}
      allow_tools: [read_query]
      options:
        page_size: 1000          # rows per read_query call (default 1000)
        queries:                 # canonical table -> SELECT yielding its columns (docs/adapters.md)
          erp_accounts: SELECT code AS account_id, name, kind AS type, ... FROM accounts

Each query must return the canonical table's columns by name (alias them with ``AS``); missing
optional columns are null, extra ones are ignored. Keep money exact: store it as TEXT (or INTEGER
minor units turned into text in the query); a REAL column arrives as its shortest repr and a value
with more than cents is quarantined by the warehouse. An item the adapter cannot map (a BLOB value)
is quarantined with the reason.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from connectors.adapters.base import Adapter, Mapped, MalformedItem, Stream, item_json, to_text_batch
from connectors.adapters.paging import Envelope
from connectors.adapters.text import python_repr, result_text
from connectors.client import ConnectorError, Page
from connectors.records import CANONICAL, KEYS

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

_SELECT = re.compile(r"^\s*select\b", re.IGNORECASE)


class SqlAdapter(Adapter):
    name = "sql"
    default_tools = ("read_query",)
    options = ("queries", "page_size", "tool")

    def __init__(self) -> None:
        self.queries: dict[str, str] = {}
        self.page_size = 1000
        self.tool = "read_query"

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        queries = options.get("queries")
        if not isinstance(queries, dict) or not queries:
            raise ValueError("options.queries: map each canonical table to the SELECT that reads it")
        unknown = sorted(set(queries) - set(CANONICAL))
        if unknown:
            raise ValueError(f"options.queries: {unknown} are not canonical tables (known: {sorted(CANONICAL)})")
        checked = {}
        for table, query in queries.items():
            text = str(query).strip().rstrip(";").strip()
            if not _SELECT.match(text):
                raise ValueError(f"options.queries.{table}: must be one SELECT statement (the server reads nothing else)")
            checked[table] = text
        self.queries = checked
        self.page_size = int(options.get("page_size", 1000))
        if self.page_size < 1:
            raise ValueError("options.page_size: must be at least 1")
        self.tool = str(options.get("tool", "read_query"))

    def read_tools(self) -> frozenset[str]:
        return frozenset({self.tool, "list_tables", "describe_table"})

    def streams(self) -> list[Stream]:
        return [Stream(table, self.tool, {"query": query}, paged=False) for table, query in self.queries.items()]

    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        text = result_text(result, limit_bytes=limit_bytes)
        return python_repr(text), len(text)

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        if not isinstance(payload, list):
            raise ValueError(f"expected a list of rows, got {type(payload).__name__}")
        return Envelope(payload)

    async def _rows(self, session: SourceSession, stream: Stream, query: str, number: int) -> tuple[list[Any], int]:
        payload, nbytes = await session.call(
            self.tool, {"query": query}, page=number, decode=lambda r, **kw: self.decode(stream, r, **kw)
        )
        try:
            return self.envelope(stream, payload).items, nbytes
        except ValueError as exc:
            raise ConnectorError(session.name, self.tool, f"{stream.table}, page {number}: {exc}") from None

    async def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        query = stream.arguments["query"]
        counted, _ = await self._rows(session, stream, f"SELECT count(*) AS n FROM ({query})", 0)
        try:
            total = int(counted[0]["n"])
        except (IndexError, KeyError, TypeError, ValueError):
            raise ConnectorError(session.name, self.tool, f"{stream.table}: the count query answered {counted!r}") from None
        order = ", ".join(f'"{k}"' for k in KEYS[stream.table])
        fetched, number = 0, 0
        while number == 0 or fetched < total:
            number += 1
            if number > session.config.client.max_pages:
                raise ConnectorError(session.name, self.tool, f"more than {session.config.client.max_pages} pages")
            page_query = f"SELECT * FROM ({query}) ORDER BY {order} LIMIT {self.page_size} OFFSET {fetched}"
            items, nbytes = await self._rows(session, stream, page_query, number)
            fetched += len(items)
            yield Page(items, None, total, None, number, nbytes)
            if len(items) < self.page_size:
                break
        if fetched != total:
            raise ConnectorError(
                session.name, self.tool,
                f"{stream.table}: read {fetched} rows but the count query said {total} "
                "(the data changed during the pull?)",
                transient=True,
            )

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        keys = KEYS[stream.table]
        if items and isinstance(items[0], dict) and not all(k in items[0] for k in keys):
            raise MalformedItem(
                f"the query for {stream.table} must return its key columns {list(keys)} "
                f"(alias them with AS); it returned {sorted(items[0])[:12]}"
            )
        good: list[dict[str, Any]] = []
        rejected: list[tuple[str, str]] = []
        for item in items:
            if not isinstance(item, dict):
                raise MalformedItem(f"a row that is not a mapping: {item!r:.80}")
            bad = [c for c in CANONICAL[stream.table] if isinstance(item.get(c), bytes | bytearray)]
            if bad:
                shown = {k: (f"<{len(v)} bytes>" if isinstance(v, bytes | bytearray) else v) for k, v in item.items()}
                rejected.append((item_json(shown), f"binary value in {', '.join(bad)}: expected text or a number"))
                continue
            good.append(item)
        return Mapped(to_text_batch(stream.table, good), rejected)
