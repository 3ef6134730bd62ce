"""`sql`: any SQL MCP server, with the query per canonical table written in config.

For teams whose ERP, bank or CRM data lands in a database (an ERP's own SQLite file, a nightly
export). One ``sql`` connector feeds the tables of its source (``erp`` the ``erp_*`` tables, ``bank``
the ``bank_*`` tables, ``crm`` ``crm_opportunities``); a table it is given no query for is emptied.

The reference server is ``mcp-server-sqlite`` (modelcontextprotocol/servers, later servers-archived,
``src/sqlite``; PyPI ``mcp-server-sqlite`` 2025.4.25, ``mcp_server_sqlite/server.py``), read from its
source:

- tools ``read_query {query}`` (refuses any query whose text does not start with ``SELECT``),
  ``list_tables {}``, ``describe_table {table_name}``; and the writes ``write_query``,
  ``create_table``, ``append_insight``, which this adapter never declares, so a config that
  allow-lists them is refused and they are never called;
- each query runs on a fresh ``sqlite3`` connection with no type converters, so a value is what
  SQLite stores: ``None``, ``int``, ``float`` (REAL), ``str`` (TEXT) or ``bytes`` (BLOB);
- every answer is one text content holding ``str(results)`` where results is
  ``[dict(row) for row in cursor.fetchall()]``: a *Python repr* of a list of dicts, not JSON, no
  structured content. A BLOB prints as a bytes literal (``b'1234.50'``), a REAL as Python's
  shortest repr that reads back to the same double (``1234.5``, ``0.30000000000000004``);
- a failure is answered as text ``"Database error: ..."`` (SQLite's message) or ``"Error: ..."``
  with ``isError`` false (the client detects both, ``connectors.client.reported_error``);
- no paging: one call returns every row.

This adapter pages in the query text instead: ``SELECT count(*) AS n FROM (<query>)`` first, then
``SELECT * FROM (<query>) ORDER BY <key> LIMIT n OFFSET m`` until the count is reached, and fails if
the rows read differ from the count (the table changed during the pull: the step is retried).
Because every query is sent inside ``SELECT ... FROM ( ... )``, a ``WITH`` query reaches the server
as a ``SELECT`` and runs as a subquery, where SQLite accepts nothing but a query: the server's
read-only rule stands (``WITH x AS (...) DELETE ...`` is a syntax error there, and the server's
``sqlite3`` runs one statement per call).

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
        as_of: SELECT max(write_date) FROM account_move   # or a literal: "2026-03-31T18:00:00+00:00"
        queries:                 # canonical table -> one SELECT (or WITH ... SELECT) yielding its columns
          erp_accounts: SELECT code AS account_id, name, kind AS type, ... FROM accounts
          erp_journal_lines: |
            WITH posted AS (SELECT id, number, date FROM account_move WHERE state = 'posted')
            SELECT m.number AS entry_id, l.id AS line_no, m.date AS posted_date,
                   CAST(l.debit AS TEXT) AS debit, CAST(l.credit AS TEXT) AS credit, ...
            FROM account_move_line AS l JOIN posted AS m ON m.id = l.move

``queries`` (required): one query per canonical table this source feeds. Each is one statement that
starts with ``SELECT`` or ``WITH`` (a trailing ``;`` and ``--`` comments are fine); it must return
the table's columns by name (alias them with ``AS``): the key columns are required, missing optional
columns are null, extra ones are ignored. Rows are ordered by the table's key for paging, so the key
must be unique.

``queries.erp_trial_balance`` (optional, R7's input): the ERP's own trial balance at one date, run
once per month-end from ``first_period`` to the report date. It must use the placeholder
``:balance_date`` (outside quotes and comments), which each run replaces with that day as a quoted
ISO date literal (``'2026-01-31'``: a date closeboard computed, never text from config or the
source), so compare it with a date stored as ISO text: ``WHERE m.date <= :balance_date``. It
returns one row per account: ``account_id``, ``debit`` and ``credit``, the cumulative Σ debit and Σ
credit of the ledger's entries dated up to that day since inception (``balance_date`` is filled in;
rows are paged by ``account_id``, which must be unique). A query without the placeholder is refused
at config load (every month-end would read the same balances). Read it from what the ERP itself
counts as the ledger (its posted moves, all journals), never through the journal query's own
filters or joins: R7 then fails, naming the accounts, when ``queries.erp_journal_lines`` misses
lines (a journal left out, an inner join that drops rows, an extract that starts late), which leave
closeboard's books balanced and wrong. Without it R7 says the ERP gives no trial balance.

The report dates follow the company: ``from_period`` (``company.first_period``), ``report_date``
(``company.as_of``, default today in ``timezone``, ``company.timezone``): the open month is read as at
the report date, the day the checks are computed at. They are filled from ``company:`` and are
options only to override them. ``report_date`` is not ``as_of``: here ``as_of`` is how current the
source is (below), not the day a report is read at.

``page_size`` (default 1000): rows per ``read_query`` call.

``tool`` (default ``read_query``): the read tool, for another SQL server whose tool takes the same
``{query}`` argument and answers the same way; it must be in ``allow_tools``.

``as_of`` (optional): how current the source's data is, carried to ``source_loads.source_as_of`` for
R6's freshness check (without it R6 warns on every refresh that the source gave no as_of). Either
- a literal ISO date or timestamp (``2026-03-31``, ``"2026-03-31T18:00:00+02:00"``): for a file
  exported once; or
- a query (``SELECT`` or ``WITH``) whose single row has a single value, an ISO date or timestamp:
  ``SELECT max(write_date) FROM account_move`` (several tables:
  ``SELECT max(d) FROM (SELECT max(write_date) AS d FROM account_move UNION ALL SELECT
  max(write_date) FROM account_invoice)``). It runs once per pull, before the tables are read. A
  null (an empty table) gives no as_of (R6 warns); a value that is not a date or timestamp fails
  the pull, naming ``options.as_of``.
A timestamp without an offset is taken as UTC (Tryton and Odoo store ``write_date`` in UTC); append
the offset in the query when it is local time (``max(write_date) || '+02:00'``).

Values, exactly or not at all (``Mapped.rejected``: the row goes to ``quarantine`` with the reason,
counted in ``source_loads.rows_rejected``, never read as 0 and never dropped):
- TEXT and INTEGER arrive as written and are read exactly (``'1234.50'``, ``42``); keep money as
  TEXT decimals, or as INTEGER minor units turned into text in the query
  (``printf('%.2f', amount_cents / 100.0)``, exact for any realistic amount);
- BLOB: refused, in any canonical column. Tryton's SQLite backend stores every Numeric (debit,
  credit, totals) as the BLOB of its decimal text (``str(Decimal).encode()``), so a Tryton money
  column must be read as ``CAST(l.debit AS TEXT) AS debit``; without the CAST each row is rejected
  with ``column debit arrived as binary (b'1234.50'): write CAST(<its expression> AS TEXT) AS debit
  in the query``. Do arithmetic in integer cents, never on BLOBs or REALs: SQLite's ``sum()`` of
  BLOB or TEXT money runs in doubles; ``printf('%.2f', sum(CAST(round(CAST(x AS TEXT) * 100) AS
  INTEGER)) / 100.0)`` is exact;
- REAL: read from the digits the server prints (Python's shortest round-trip repr, never a float
  in closeboard), so a REAL that holds ``1234.5`` or ``99.99`` loads exactly. A REAL in a money column
  whose digits go past the column's scale (cents; 8 places for ``rate``), such as
  ``0.30000000000000004``, is rejected: store money as TEXT or integer minor units, or round it on
  purpose in the query (``printf('%.2f', amount)``). Do not ``CAST`` a REAL to TEXT: SQLite keeps
  only 15 significant digits there.

A query that fails (a typo, a missing table) fails the source with a message naming the canonical
table, the option and the server's own message, e.g. ``source 'erp', tool 'read_query': the query
for erp_journal_lines (options.queries.erp_journal_lines) failed: the server reported an error:
Database error: no such column: l.debt``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters.base import Adapter, Mapped, MalformedItem, Stream, item_json, to_text_batch
from connectors.adapters.paging import Envelope
from connectors.adapters.reports import REPORT_COMPANY_OPTIONS, MonthEndReports, dated_reports
from connectors.adapters.reports import TABLE as REPORT_TABLE
from connectors.adapters.text import python_repr, result_text
from connectors.client import ConnectorError, Page, ProgressGuard
from connectors.records import CANONICAL, KEYS, TABLES

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

_DECIMAL = re.compile(r"DECIMAL\(\d+,(\d+)\)")
# Decimal places each exact column holds in the warehouse, per table, as canonical.sql declares them
# (connectors.records.TABLES: DECIMAL(18,2) money, DECIMAL(18,8) rates): a REAL whose printed digits
# go further is not an exact amount.
MONEY_SCALE: dict[str, dict[str, int]] = {
    table: {c.name: int(m.group(1)) for c in columns if (m := _DECIMAL.fullmatch(c.type))}
    for table, columns in TABLES.items()
}

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
PLACEHOLDER = ":balance_date"
# a quoted string or name, or a comment (left as they are), or the placeholder (replaced)
_PLACEHOLDER_OR_QUOTED = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|--[^\n]*|/\*.*?\*/|(:balance_date)\b""", re.DOTALL
)
# the trial balance's dates: the company's settings; `as_of` is this adapter's source freshness, so
# the report date has its own option name
REPORT_DATE_OPTIONS = ("from_period", "report_date", "timezone")
REPORT_DATE_COMPANY_OPTIONS = {
    "from_period": REPORT_COMPANY_OPTIONS["from_period"],
    "report_date": REPORT_COMPANY_OPTIONS["as_of"],
    "timezone": REPORT_COMPANY_OPTIONS["timezone"],
}
_STATEMENTS = {"SELECT", "VALUES", "INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT"}


def _top_level_words(query: str) -> list[str]:
    """The words outside strings, quoted names, comments and parentheses, upper-cased; a ValueError
    when the text is not one balanced statement (a ``;`` inside, an unclosed quote or parenthesis)."""
    words: list[str] = []
    depth, i, n = 0, 0, len(query)
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = query[i]
        if ch in closing:  # a string or a quoted name; a doubled quote stays inside
            end = closing[ch]
            j = i + 1
            while True:
                j = query.find(end, j)
                if j < 0:
                    raise ValueError(f"an unclosed {ch} quote")
                if end != "]" and query.startswith(end * 2, j):
                    j += 2
                    continue
                break
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j + 1
        elif query.startswith("/*", i):
            j = query.find("*/", i + 2)
            if j < 0:
                raise ValueError("an unclosed /* comment")
            i = j + 2
        elif ch == "(":
            depth, i = depth + 1, i + 1
        elif ch == ")":
            depth, i = depth - 1, i + 1
            if depth < 0:
                raise ValueError("a ')' without its '('")
        elif ch == ";":
            raise ValueError("more than one statement (a ';' before the end)")
        else:
            word = _WORD.match(query, i)
            if word is None:
                i += 1
                continue
            if depth == 0:
                words.append(word.group().upper())
            i = word.end()
    if depth != 0:
        raise ValueError("a '(' without its ')'")
    return words


def check_query(query: Any, where: str) -> str:
    """One read statement (``SELECT`` or ``WITH ... SELECT``), trailing ``;`` removed; a ValueError
    naming ``where`` otherwise."""
    text = str(query).strip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    try:
        words = _top_level_words(text)
    except ValueError as exc:
        raise ValueError(f"{where}: must be one SELECT or WITH ... SELECT statement: {exc}") from None
    first = words[0] if words else ""
    main = next((w for w in words[1:] if w in _STATEMENTS), "") if first == "WITH" else first
    if main != "SELECT":
        shown = " ".join(text.split())[:80]
        raise ValueError(
            f"{where}: must be one SELECT or WITH ... SELECT statement (the server reads nothing else), got {shown!r}"
        )
    return text


def iso_as_of(value: Any, where: str) -> str:
    """An ISO date (``2026-03-31``) or timestamp as the as-of text; a timestamp without an offset is UTC."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str) and value.strip():
        raw = value.strip()
        try:
            return date.fromisoformat(raw).isoformat()
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an ISO date or timestamp") from None
    else:
        hint = " (CAST it AS TEXT in the query)" if isinstance(value, bytes | bytearray) else ""
        raise ValueError(f"{where}: {value!r:.60} is not an ISO date or timestamp{hint}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _shown(value: bytes | bytearray, width: int = 40) -> str:
    text = repr(bytes(value))
    return text if len(text) <= width else f"{text[:width]}... ({len(value)} bytes)"


def dated_query(query: str, day: date | None) -> tuple[str, int]:
    """The query with each ``:balance_date`` outside quotes and comments replaced by ``day`` as a
    quoted ISO date literal (left as is when ``day`` is None), and how many there were."""
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        if match.group(1) is None:
            return match.group(0)
        found += 1
        return match.group(0) if day is None else f"'{day.isoformat()}'"

    return _PLACEHOLDER_OR_QUOTED.sub(replace, query), found


def _wrap(query: str) -> str:
    """The query as a subquery; the newline keeps a trailing ``--`` comment from eating the ')'."""
    return f"(\n{query}\n)"


class SqlAdapter(MonthEndReports, Adapter):
    name = "sql"
    default_tools = ("read_query",)
    options = ("queries", "page_size", "tool", "as_of", *REPORT_DATE_OPTIONS)
    company_options = REPORT_DATE_COMPANY_OPTIONS

    def __init__(self) -> None:
        self.queries: dict[str, str] = {}
        self.page_size = 1000
        self.tool = "read_query"
        self.as_of_literal: str | None = None
        self.as_of_query: str | None = None
        self._as_of_read: tuple[Any, str | None] | None = None  # (session, value): read once per pull

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        queries = options.get("queries")
        if not isinstance(queries, dict) or not queries:
            raise ValueError("options.queries: map each canonical table to the SELECT that reads it")
        unknown = sorted(set(queries) - set(CANONICAL))
        if unknown:
            raise ValueError(f"options.queries: {unknown} are not canonical tables (known: {sorted(CANONICAL)})")
        self.queries = {table: check_query(query, f"options.queries.{table}") for table, query in queries.items()}
        if REPORT_TABLE in self.queries and not dated_query(self.queries[REPORT_TABLE], None)[1]:
            raise ValueError(
                f"options.queries.{REPORT_TABLE}: the query must use the placeholder {PLACEHOLDER} (each month-end "
                f"as a quoted ISO date, e.g. WHERE m.date <= {PLACEHOLDER}), else every month-end reads the same "
                "balances"
            )
        report_date = options.get("report_date")
        try:
            self.configure_report_dates({**options, "as_of": report_date})
        except ValueError:
            raise ValueError(f"options.report_date: {report_date!r} is not YYYY-MM-DD") from None
        self.page_size = int(options.get("page_size", 1000))
        if self.page_size < 1:
            raise ValueError("options.page_size: must be at least 1")
        self.tool = str(options.get("tool", "read_query"))
        self.as_of_literal = self.as_of_query = None
        self._as_of_read = None
        as_of = options.get("as_of")
        if as_of is None or as_of == "":
            return
        try:
            self.as_of_literal = iso_as_of(as_of, "options.as_of")
            return
        except ValueError as exc:
            literal_error = exc
        if not (isinstance(as_of, str) and re.search(r"\b(select|with)\b", as_of, re.IGNORECASE)):
            raise ValueError(f"{literal_error} (give an ISO date or timestamp, or a SELECT answering one)")
        self.as_of_query = check_query(as_of, "options.as_of")

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

    async def _rows(
        self, session: SourceSession, stream: Stream, query: str, number: int | None, what: str
    ) -> tuple[list[Any], int]:
        """The rows one query answers; a failure names ``what`` (the table's query or the as_of)."""
        try:
            payload, nbytes = await session.call(
                self.tool, {"query": query}, page=number, decode=lambda r, **kw: self.decode(stream, r, **kw)
            )
        except ConnectorError as exc:
            raise type(exc)(session.name, exc.tool, f"{what} failed: {exc.cause}", transient=exc.transient) from exc
        try:
            return self.envelope(stream, payload).items, nbytes
        except ValueError as exc:
            raise ConnectorError(session.name, self.tool, f"{what}, page {number}: {exc}") from None

    async def source_as_of(self, session: SourceSession, stream: Stream) -> str | None:
        """The configured as-of: the literal, or the as_of query's value (read once per pull)."""
        if self.as_of_query is None:
            return self.as_of_literal
        if self._as_of_read is not None and self._as_of_read[0] is session:
            return self._as_of_read[1]
        rows, _ = await self._rows(
            session, stream, f"SELECT * FROM {_wrap(self.as_of_query)} LIMIT 2", None, "the as_of query (options.as_of)"
        )
        if len(rows) != 1 or not isinstance(rows[0], dict) or len(rows[0]) != 1:
            raise ConnectorError(
                session.name,
                self.tool,
                f"options.as_of: the query must answer one row with one value, got {rows!r:.200}",
            )
        value = next(iter(rows[0].values()))
        try:
            as_of = None if value is None else iso_as_of(value, "options.as_of: the query answered")
        except ValueError as exc:
            raise ConnectorError(session.name, self.tool, str(exc)) from None
        self._as_of_read = (session, as_of)
        return as_of

    async def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        what = f"the query for {stream.table} (options.queries.{stream.table})"
        if stream.table != REPORT_TABLE:
            async for page in self._pages(session, stream, stream.arguments["query"], KEYS[stream.table], what):
                yield page
            return

        async def read(day: date, number: int) -> tuple[list[dict[str, Any]], int | None, str | None, int]:
            """The trial balance at ``day``: the query with that date, paged by account."""
            query, _ = dated_query(stream.arguments["query"], day)
            rows: list[dict[str, Any]] = []
            total, as_of, nbytes = None, None, 0
            async for page in self._pages(session, stream, query, ("account_id",), f"{what} at {day}", number):
                rows.extend(page.items)
                total, as_of, nbytes = page.total, page.as_of, nbytes + page.nbytes
            return rows, total, as_of, nbytes

        async for page in dated_reports(session.name, self.tool, self.report_dates(), read):
            yield page

    async def _pages(
        self,
        session: SourceSession,
        stream: Stream,
        query: str,
        key: Sequence[str],
        what: str,
        report: int | None = None,
    ) -> AsyncIterator[Page]:
        """Every page of one query: counted, then read ``page_size`` rows at a time ordered by ``key``
        (the call log numbers a report's calls by the report)."""
        as_of = await self.source_as_of(session, stream)
        counted, _ = await self._rows(
            session, stream, f"SELECT count(*) AS n FROM {_wrap(query)}", 0 if report is None else report, what
        )
        try:
            total = int(counted[0]["n"])
        except (IndexError, KeyError, TypeError, ValueError):
            raise ConnectorError(
                session.name, self.tool, f"{stream.table}: the count query answered {counted!r:.200}"
            ) from None
        order = ", ".join(f'"{k}"' for k in key)
        fetched, number = 0, 0
        guard = ProgressGuard(session.name, self.tool)  # a server ignoring OFFSET repeats page 1: stop
        while number == 0 or fetched < total:
            number += 1
            if number > session.config.client.max_pages:
                raise ConnectorError(
                    session.name, self.tool, f"{stream.table}: more than {session.config.client.max_pages} pages"
                )
            page_query = f"SELECT * FROM {_wrap(query)} ORDER BY {order} LIMIT {self.page_size} OFFSET {fetched}"
            items, nbytes = await self._rows(session, stream, page_query, number if report is None else report, what)
            fetched += len(items)
            guard.page(number, items)
            yield Page(items, None, total, as_of, number, nbytes)
            if len(items) < self.page_size:
                break
        if fetched != total:
            raise ConnectorError(
                session.name,
                self.tool,
                f"{stream.table}: read {fetched} rows but the count query said {total} "
                "(the data changed during the pull?)",
                transient=True,
            )

    @staticmethod
    def problems(item: dict[str, Any], table: str) -> list[str]:
        """Why a row of `table`'s values cannot be read exactly (empty when they can)."""
        found = []
        scales = MONEY_SCALE[table]
        for column in CANONICAL[table]:
            value = item.get(column)
            if isinstance(value, bytes | bytearray):
                found.append(
                    f"column {column} arrived as binary ({_shown(value)}): "
                    f"write CAST(<its expression> AS TEXT) AS {column} in the query"
                )
            elif isinstance(value, Decimal) and column in scales:  # a REAL, as the digits the server printed
                scale = scales[column]
                exponent = value.normalize().as_tuple().exponent
                if isinstance(exponent, int) and exponent < -scale:
                    found.append(
                        f"column {column} arrived as a REAL (binary floating point) {value}, not exact at {scale} "
                        f"decimal places: store it as TEXT or integer minor units, or round it on purpose in the "
                        f"query: printf('%.{scale}f', <its expression>) AS {column}"
                    )
        return found

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
            found = self.problems(item, stream.table)
            if found:
                shown = {k: (_shown(v) if isinstance(v, bytes | bytearray) else v) for k, v in item.items()}
                rejected.append((item_json(shown), f"{stream.table}: " + "; ".join(found)))
                continue
            good.append(item)
        return Mapped(to_text_batch(stream.table, good), rejected)
