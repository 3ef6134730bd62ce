"""`beancount`: a beancount ledger through the ``beancount-mcp`` server (BQL queries).

Read from the source of PyPI ``beancount-mcp`` 0.1.1 (github.com/StdioA/beancount-mcp,
``beancount_mcp/server.py`` and ``beancount_mcp/__main__.py``; run here with beancount 3.2,
beanquery 0.2 and mcp 1.x):

- CLI ``beancount-mcp [--transport stdio|sse] LEDGER`` — the default transport is **sse**, so
  closeboard must pass ``--transport stdio``. The package needs ``mcp<2``: it runs in its own
  environment, ``uvx --with "mcp<2" --from beancount-mcp beancount-mcp --transport stdio FILE``.
- tools: ``beancount_query {query}`` (BQL), ``beancount_accounts {}``, ``beancount_get_transaction
  {tx_id}``, ``beancount_current_date {}`` — and the write ``beancount_submit_transaction
  {transaction}``, which appends text to the ledger file. This adapter never declares it, so a
  config that allow-lists it is refused at load and it is never called.
- ``beancount_query`` answers JSON *text* ``{"columns": [{"name", "type"}], "rows": [[...]]}``
  where every cell is ``str(value)`` (``"100.00 USD"`` for an Amount, ``"None"`` for null,
  ``"frozenset({'a'})"`` for links), and **keeps only the first 200 rows** (``rows[:200]``)
  without saying so. Before running the query it strips quotes around ISO dates and removes
  ``FROM transaction(s)``. A failing query raises ``ValueError("BQL query error: ...")``, which
  the server's FastMCP answers as ``isError`` text ``"Error executing tool beancount_query: BQL
  query error: ..."`` (the client turns it into a ConnectorError naming the source and tool).
- BQL (beanquery) has LIMIT but no OFFSET, and the ledger's options (``operating_currency``) are
  not readable through any tool — hence the required ``currency`` option below.

How this adapter reads it (the mapping rules themselves, shared with the bundled beanfile server that
reads a ledger file with beancount's loader, are in ``connectors/beancount_map.py``)
- ``erp_accounts`` from the ``open`` directives (``SELECT ... FROM #accounts``), read by keyset on
  the account name (``WHERE account > 'last' ORDER BY account``, 200 at a time) and checked against
  ``SELECT count(*) FROM #accounts``. type from the root (``account_types``); subtype from the
  first matching glob in ``subtypes`` (defaults in ``DEFAULT_SUBTYPES``); currency the one currency
  the ``open`` allows, else the reporting currency; parent the nearest opened ancestor.
- ``erp_journal_lines`` from the postings, by windows: grouped counts per year
  (``SELECT year, count(*) GROUP BY year``), a year over the cut per month, a month over the cut
  per day, a day over the cut per transaction line number (``int(entry_meta('lineno'))``, keyset);
  consecutive groups are packed into windows of at most 200 postings. Each window is fetched with
  one query and must return exactly the postings its counts announced, else the pull fails
  (transient: the ledger changed meanwhile). A single transaction with more than 200 postings
  cannot be read through this server: that fails with the reason.
- entry_id is the transaction's location ``FILE:LINE`` (beancount's own ``location``, unique,
  stable while the file is unchanged; beanquery's ``id`` hash for one a plugin made without a line); line_no its posting's position in it (1, 2, ...);
  description ``payee | narration``; document_id the transaction's first link (sorted).
- Money (beancount balances a transaction per currency, so the reporting currency balances on its
  own once every posting is valued in it). A posting is money when its value in the reporting
  currency is known: its units when they are in it; else its weight (units at the ``@`` price or
  ``{cost}``: stock held at cost counts through its cost) when that is in it; else the weight
  converted with the ledger's own prices (BQL ``CONVERT(weight, CCY, date)``: the latest price on or
  before the date). debit/credit are that value, rounded to cents half away from zero;
  ``currency`` is the posting's units currency and ``amount_currency`` its signed units when those
  are another currency (left out when they have more than two decimals that are not zeros, e.g.
  fractional shares).
- Not money: the postings of a transaction whose weight is in a commodity the ledger has no price
  for (401k units in IRAUSD, vacation hours in VACHR) and that balance within that commodity inside
  the transaction (to beancount's inferred tolerance: half the last decimal of the least precise
  number; integers exactly). They are left out of erp_journal_lines — line_no keeps the posting's
  position, so the numbers of the others have gaps — and counted, never quarantined (they are not
  errors) and they never take the transaction's money with them: ``self.left_out`` (a Counter per
  commodity, reset by each pull) and a note in the session's call log (``log.notes``, which the
  pipeline shows as a progress line) say how many.
- Set aside: a transaction whose money does not balance — an unpriced commodity that does not
  balance within itself (e.g. a GBP expense paid in USD with no GBP price: its USD does not balance
  without it), a posting without weight, or cents beyond the rounding rule below — goes to
  ``quarantine`` whole (half an entry is never loaded; nothing is summed in a foreign currency):
  one rejected row per posting that is money or should have been (the record names the entry, the
  posting and its units), each with the transaction's reason.
- ``erp_fx_rates`` from the ``price`` directives quoted in the reporting currency (``#prices``): rate =
  the price (units of the reporting currency for one unit of ``currency``), rounded half away from
  zero to 8 places (DECIMAL(18,8)); one rate per (currency, date), the last price of the day as
  beancount's price map keeps it (``last(amount.number) ... GROUP BY date, currency``). Read by
  keyset on (date, currency), 200 groups at a time, and checked against ``count(*)`` of those prices.
- Beancount accepts a transaction that balances within its tolerance (0.005 for amounts in
  cents), and cent rounding of converted postings leaves residuals: an entry whose cents do not
  sum to zero gets one more line of ``-residual`` on ``rounding_account`` when that is configured
  and the residual is within ``rounding_tolerance``; otherwise the entry is quarantined with the
  residual in the reason. So Σ debit = Σ credit holds exactly for every loaded entry. (bean-example
  buys fund units at a cents cost: 1.950 VBMPX {123.10 USD} weighs 240.04500 USD against -240.04 USD
  of cash, so such a ledger wants a rounding_account.)
- Incremental refresh (connectors.incremental): ``ledger_summary`` is one BQL aggregate grouped by
  year and month (keyset past the row cut), two rows per month: ``#postings`` (postings, Σ|cents|,
  Σ of the transactions' line numbers: a transaction inserted above shifts the months below it) and
  ``#accounts`` (postings, Σ cents x length(account), Σ units to the cent x length(account): a
  reclassification or a changed leg that is not money). The journal is pulled again only for the
  months whose summary changed and the open month (the report date's): a ledger file has no
  sign-off. Nothing changed: no posting is read (the load says 0 of 0).
- ``erp_trial_balance`` (R7's input): the ledger's own balance of every account at every month-end
  from ``first_period`` to the report date (``company.as_of``, else today), computed by beanquery on
  the ledger, never from the postings this adapter read: ``SELECT account, sum(V) WHERE date <= FIRST
  GROUP BY account`` for the first report date, then the later months' movements in one aggregate,
  ``SELECT year, month, account, sum(V) WHERE date > FIRST AND date <= LAST GROUP BY year, month,
  account`` (both by keyset past the row cut); a month-end's balance is the sum up to its month. V is the journal's money rule in BQL (USD standing for ``currency``):
  the value the journal line carries — the units when they are in the reporting currency, else the weight converted
  (``number * int(currency = 'USD') + number(CONVERT(weight, 'USD', date)) * (1 - int(currency =
  'USD'))``: BQL has no CASE) — times ``int(M)``, M the posting being money (``currency = 'USD' OR
  currency(CONVERT(weight, 'USD', date)) = 'USD'``; a leg that is not money counts 0, so an account
  with only such legs is listed at 0.00), rounded to cents half away from zero (``round(V *
  1.00000000000000000001, 2)``: beanquery's ``round`` rounds half to even; the nudge of one part in
  10^20 moves an exact half-cent away from zero and no other value across a cent). A day before
  the ledger's first posting has no report (R7 says so for that month).
  With ``rounding_account``, the report adds what the rounding lines book: per transaction, the
  cents of its money that do not sum to zero within ``rounding_tolerance`` (``SELECT date, id,
  sum(V) ... GROUP BY date, id HAVING sum(V) != 0 AND abs(sum(V)) <= tolerance``, read once, keyset
  on ``id``), undone on that account at the month-ends from the transaction's date. So on a ledger
  read whole the report ties to the journal to the cent, and R7 fails on the accounts of every
  transaction the journal does not carry (set aside to ``quarantine``, or added to the ledger
  between the journal read and the report). Legs that are not money are in neither. Read by default
  (``trial_balance: false`` skips it; R7 then says the ERP gives no trial balance).
- Reported totals are what the count queries said, less the postings left out as not money, plus
  the rounding lines and the rounding account this adapter adds: so received + rejected rows =
  the total (R6), a set-aside transaction counts as its rows in quarantine, and legs that are not
  money are no shortfall. A page's total is the running figure; the last page's is the table's.
  erp_fx_rates reports the prices counted less those repeated on the same day.

Config::

    erp:
      adapter: beancount
      server: {command: uvx, args: [--with, "mcp<2", --from, beancount-mcp, beancount-mcp,
                                    --transport, stdio, "${CLOSEBOARD_HOME}/ledger/main.beancount"]}
      allow_tools: [beancount_query]
      options:
        currency: USD                      # required: the ledger's operating_currency
        rounding_account: Expenses:Rounding  # optional; without it unbalanced cents quarantine
        rounding_tolerance: "0.05"         # largest residual booked to it (default 0.05)
        subtypes: {cash: ["Assets:Bank*", "Assets:Cash*"], ar: ["Assets:Receivable*"], ...}
        account_types: {Assets: asset, ...} # only when the ledger renames its roots
        trial_balance: true                # the ledger's own month-end balances for R7 (default true)
        # from_period, as_of, timezone: follow company.first_period / as_of / timezone (left out)
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from connectors.adapters.base import Adapter, MalformedItem, Mapped, Stream, item_json, to_text_batch
from connectors.adapters.reports import REPORT_COMPANY_OPTIONS, REPORT_OPTIONS, MonthEndReports, dated_reports
from connectors.adapters.reports import TABLE as REPORT_TABLE
from connectors.beancount_map import (
    DEFAULT_ACCOUNT_TYPES,
    DEFAULT_SUBTYPES,
    Posting,
    Rules,
    map_entry,
    rate,
)
from connectors.beancount_map import cents as _cents
from connectors.beancount_map import money as _money
from connectors.client import ConnectorError, Page, ProgressGuard
from connectors.incremental import Baseline, SummaryRow, periods_to_pull
from connectors.periods import period_of

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

QUERY_TOOL = "beancount_query"
ROW_CUT = 200  # beancount_mcp/server.py query_bql: rows[:200]
_CURRENCY = re.compile(r"^[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]$|^[A-Z]$")
_LINK = re.compile(r"'([^']*)'")
_LINE = "int(entry_meta('lineno'))"
# the postings of a window, by position: the transaction's file and line, the posting
_POSTING_COLUMNS = (
    "entry_meta('filename')",
    _LINE,
    "date",
    "account",
    "number",
    "currency",
    "weight",
    "CONVERT(weight, '{ccy}', date)",
    "description",
    "links",
    "id",
)
# count levels: BQL key expression, and the condition one key adds to its parent's
_LEVELS = ("year", "month", "day", _LINE)
# the trial balance: the postings that are money ({ccy}: the reporting currency as a BQL string) and
# the cents each one's journal line carries, 0 for a posting that is not money (see the module
# docstring); beanquery's round() rounds half to even, so the value is first nudged away from zero
# by one part in 10^20
_MONEY = "(currency = {ccy} OR currency(CONVERT(weight, {ccy}, date)) = {ccy})"
_VALUE = (
    "round((number * int(currency = {ccy}) + number(CONVERT(weight, {ccy}, date)) * (1 - int(currency = {ccy})))"
    " * int(" + _MONEY + ") * 1.00000000000000000001, 2)"
)


@dataclass(frozen=True)
class Window:
    """A set of postings selected by a BQL condition, and how many the count queries found."""

    where: str
    count: int


def _amount(text: str) -> tuple[Decimal, str] | None:
    """``"-12.50 USD"`` as (Decimal, currency); None for ``"None"``."""
    if text in ("None", ""):
        return None
    number, _, currency = text.strip().partition(" ")
    try:
        return Decimal(number), currency.strip()
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r}") from None


class BeancountAdapter(MonthEndReports, Adapter):
    name = "beancount"
    default_tools = (QUERY_TOOL,)
    options = (
        "currency",
        "subtypes",
        "account_types",
        "rounding_account",
        "rounding_tolerance",
        "row_cut",
        "trial_balance",
        *REPORT_OPTIONS,
    )
    company_options = {"currency": ("currency", True), **REPORT_COMPANY_OPTIONS}
    # incremental refresh: the ledger summary is one BQL aggregate per month (ledger_summary), and the
    # journal is pulled again only for the months whose summary changed, plus the open month
    summary_tool = QUERY_TOOL
    windowed_table = "erp_journal_lines"

    def __init__(self) -> None:
        self.currency = ""
        self.subtypes: dict[str, tuple[str, ...]] = dict(DEFAULT_SUBTYPES)
        self.account_types = dict(DEFAULT_ACCOUNT_TYPES)
        self.rounding_account: str | None = None
        self.rounding_tolerance = Decimal("0.05")
        self.row_cut = ROW_CUT
        self.trial_balance = True  # read the ledger's own month-end balances (erp_trial_balance, R7)
        self._opened: set[str] = set()
        self._nbytes = 0  # the size of the last answer
        # the postings of the last pull left out of erp_journal_lines because they are not money, per
        # commodity (e.g. {"IRAUSD": 650, "VACHR": 650}); also told as a note in the session's call log
        self.left_out: Counter[str] = Counter()

    # -- config ---------------------------------------------------------------------------------
    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        currency = str(options.get("currency") or "")
        if not _CURRENCY.match(currency):
            raise ValueError(
                "options.currency: the reporting currency (the ledger's operating_currency, e.g. USD) is required: "
                "beancount-mcp does not expose the ledger's options"
            )
        self.currency = currency
        if "account_types" in options:
            types = options["account_types"]
            allowed = set(DEFAULT_ACCOUNT_TYPES.values())
            if not isinstance(types, dict) or not types or any(v not in allowed for v in types.values()):
                raise ValueError(f"options.account_types: map each root account name to one of {sorted(allowed)}")
            self.account_types = {str(k): str(v) for k, v in types.items()}
        if "subtypes" in options:
            subtypes = options["subtypes"]
            if not isinstance(subtypes, dict):
                raise ValueError("options.subtypes: map each subtype (cash, ar, ap, cogs, debt, ...) to account globs")
            checked: dict[str, tuple[str, ...]] = {}
            for subtype, patterns in subtypes.items():
                if isinstance(patterns, str):
                    patterns = [patterns]
                if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
                    raise ValueError(f"options.subtypes.{subtype}: expected a list of account globs")
                checked[str(subtype)] = tuple(patterns)
            self.subtypes = checked
        rounding = options.get("rounding_account")
        if rounding is not None:
            rounding = str(rounding)
            if rounding.partition(":")[0] not in self.account_types or ":" not in rounding:
                raise ValueError(
                    f"options.rounding_account: {rounding!r} is not an account under one of the roots "
                    f"{sorted(self.account_types)}"
                )
        self.rounding_account = rounding
        try:
            self.rounding_tolerance = Decimal(str(options.get("rounding_tolerance", "0.05")))
        except InvalidOperation:
            raise ValueError("options.rounding_tolerance: expected a decimal amount such as 0.05") from None
        if not self.rounding_tolerance.is_finite() or self.rounding_tolerance < 0:
            raise ValueError("options.rounding_tolerance: expected a non-negative decimal amount")
        self.row_cut = int(options.get("row_cut", ROW_CUT))
        if self.row_cut < 2:
            raise ValueError("options.row_cut: the server's row cut, at least 2 (beancount-mcp 0.1.1: 200)")
        trial_balance = options.get("trial_balance", True)
        if not isinstance(trial_balance, bool):
            raise ValueError(
                f"options.trial_balance: true or false (read the ledger's own month-end balances "
                f"for R7; default true), got {trial_balance!r}"
            )
        self.trial_balance = trial_balance
        self.configure_report_dates(options)

    def read_tools(self) -> frozenset[str]:
        # the read-only tools of beancount-mcp; beancount_submit_transaction (a write) is not among them
        return frozenset({QUERY_TOOL, "beancount_accounts", "beancount_get_transaction", "beancount_current_date"})

    def streams(self, windows: list[tuple[str, str]] | None = None) -> list[Stream]:
        """The journal whole, or one stream per window of months (inclusive ISO dates) on an incremental pull."""
        self.left_out = Counter()
        journal = (
            [Stream("erp_journal_lines", QUERY_TOOL, paged=False)]
            if windows is None
            else [
                Stream("erp_journal_lines", QUERY_TOOL, {"date_from": f, "date_to": t}, paged=False) for f, t in windows
            ]
            or [Stream("erp_journal_lines", QUERY_TOOL, {"unchanged": True}, paged=False)]
        )
        return [
            Stream("erp_accounts", QUERY_TOOL, paged=False),
            *journal,
            Stream("erp_fx_rates", QUERY_TOOL, paged=False),
            *([Stream(REPORT_TABLE, QUERY_TOOL, paged=False)] if self.trial_balance else []),
        ]

    # -- querying --------------------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        payload, nbytes = super().decode(stream, result, limit_bytes=limit_bytes)
        if isinstance(payload, dict) and "error" in payload and "rows" not in payload:
            raise ValueError(f"the server answered an error: {payload['error']}")
        if not isinstance(payload, dict) or not isinstance(payload.get("rows"), list):
            raise ValueError(f"expected {{columns, rows}} from {QUERY_TOOL}, got {str(payload)[:120]!r}")
        return {"items": payload["rows"], "columns": payload.get("columns")}, nbytes  # items: counted in the call log

    async def _query(
        self, session: SourceSession, query: str, *, page: int | None = None, width: int | None = None
    ) -> list[list[str]]:
        payload, self._nbytes = await session.call(
            QUERY_TOOL, {"query": query}, page=page, decode=lambda r, **kw: self.decode(None, r, **kw)
        )
        rows = payload["items"]
        for row in rows:
            if not isinstance(row, list) or (width is not None and len(row) != width):
                raise ConnectorError(
                    session.name,
                    QUERY_TOOL,
                    f"a row of {width} cells was expected, got {str(row)[:120]!r} for {query!r}",
                )
        return rows

    async def _count(self, session: SourceSession, query: str) -> int:
        rows = await self._query(session, query, width=1)
        try:
            return int(rows[0][0]) if rows else 0  # no matching row: no row at all
        except ValueError:
            raise ConnectorError(session.name, QUERY_TOOL, f"the count query {query!r} answered {rows!r}") from None

    async def _grouped_counts(self, session: SourceSession, key: str, where: str) -> list[tuple[int, int]]:
        """(key, postings) per group, every group even past the row cut (keyset on the key)."""
        counts: list[tuple[int, int]] = []
        last: int | None = None
        guard = ProgressGuard(session.name, QUERY_TOOL)  # a server ignoring the keyset repeats a page: stop
        step = 0
        while True:
            step += 1
            condition = " AND ".join(c for c in (where, f"{key} > {last}" if last is not None else "") if c)
            query = (
                f"SELECT {key} AS k, count(*) AS n{f' WHERE {condition}' if condition else ''} GROUP BY k ORDER BY k"
            )
            rows = await self._query(session, query, width=2)
            try:
                page = [(int(k), int(n)) for k, n in rows]
            except ValueError:
                raise ConnectorError(
                    session.name, QUERY_TOOL, f"the count query {query!r} answered {rows[:3]!r}"
                ) from None
            counts.extend(page)
            if len(rows) < self.row_cut:
                return counts
            last = page[-1][0]
            guard.page(step, rows, last)

    async def windows(self, session: SourceSession, where: str = "", level: int = 0) -> list[Window]:
        """Windows of at most `row_cut` postings covering every posting that matches `where`."""
        key = _LEVELS[level]
        groups = await self._grouped_counts(session, key, where)
        windows: list[Window] = []
        run: list[tuple[int, int]] = []

        def flush() -> None:
            if run:
                condition = f"{key} >= {run[0][0]} AND {key} <= {run[-1][0]}"
                windows.append(Window(" AND ".join(c for c in (where, condition) if c), sum(n for _, n in run)))
                run.clear()

        for value, n in groups:
            if n > self.row_cut:
                flush()
                inner = " AND ".join(c for c in (where, f"{key} = {value}") if c)
                if level + 1 < len(_LEVELS):
                    windows.extend(await self.windows(session, inner, level + 1))
                    continue
                raise ConnectorError(
                    session.name,
                    QUERY_TOOL,
                    f"{n} postings of the transaction(s) at line {value} ({where}) exceed beancount-mcp's cut of "
                    f"{self.row_cut} rows per query: they cannot be read completely through this server",
                )
            if sum(c for _, c in run) + n > self.row_cut:
                flush()
            run.append((value, n))
        flush()
        return windows

    # -- pages ------------------------------------------------------------------------------------
    def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        if stream.table == "erp_accounts":
            return self._account_pages(session)
        if stream.table == "erp_fx_rates":
            return self._rate_pages(session)
        if stream.table == REPORT_TABLE:
            return self._report_pages(session)
        window = stream.arguments
        if window.get("unchanged"):  # no month changed: nothing to read, and the load says so (0 of 0)
            return _no_pages()
        return self._line_pages(
            session, f"date >= {window['date_from']} AND date <= {window['date_to']}" if window else ""
        )

    # -- incremental refresh ----------------------------------------------------------------------
    async def ledger_summary(self, session: SourceSession, *, whole: bool = False) -> list[dict[str, Any]]:
        """The ledger summary the incremental refresh compares (connectors.incremental): one BQL
        aggregate per month (keyset on the month past the row cut), two rows per month:
        ``#postings`` (postings; Σ|cents| of their journal value; Σ of their transactions' line
        numbers, so a transaction inserted above shifts the months below it) and ``#accounts``
        (postings; Σ cents x length of the account name; Σ units to the cent x length of the account
        name: a reclassification or a change to a leg that is not money). Every figure is whole cents,
        as the warehouse stores it."""
        value = _VALUE.format(ccy=_bql_string(self.currency))
        items: list[dict[str, Any]] = []
        last: tuple[str, str] | None = None
        guard = ProgressGuard(session.name, QUERY_TOOL)
        step = 0
        while True:
            step += 1
            after = f" WHERE year > {last[0]} OR (year = {last[0]} AND month > {last[1]})" if last else ""
            rows = await self._query(
                session,
                f"SELECT year, month, count(*) AS n, sum(abs({value})) AS moved, sum({_LINE}) AS line, "
                f"sum({value} * length(account)) AS placed, sum(round(number, 2) * length(account)) AS units"
                f"{after} GROUP BY year, month ORDER BY year, month",
                width=7,
            )
            for year, month, n, moved, line, placed, units in rows:
                period = f"{int(year):04d}-{int(month):02d}"
                items.append(
                    {
                        "period": period,
                        "account_id": "#postings",
                        "lines": n,
                        "debit": _summed(moved),
                        "credit": _summed(line),
                    }
                )
                items.append(
                    {
                        "period": period,
                        "account_id": "#accounts",
                        "lines": n,
                        "debit": _summed(placed),
                        "credit": _summed(units),
                    }
                )
            if len(rows) < self.row_cut:
                return items
            last = (rows[-1][0], rows[-1][1])
            guard.page(step, rows, last)

    def periods_to_pull(self, summary: frozenset[SummaryRow], baseline: Baseline | None) -> list[str] | None:
        """The months whose summary changed, and the open month (the report date's): a ledger file has
        no sign-off, and its summary sees every change to a posting's money, account or line."""
        if baseline is None:
            return None
        open_month = period_of(self.as_of or datetime.now(ZoneInfo(self.timezone)).date())
        settled = frozenset(row[0] for row in summary | baseline.summary) - {open_month}
        return periods_to_pull(summary, Baseline(baseline.summary, settled))

    async def _account_pages(self, session: SourceSession) -> AsyncIterator[Page]:
        total = await self._count(session, "SELECT count(*) FROM #accounts")
        self._opened = set()
        last: str | None = None
        fetched, number = 0, 0
        added = 0
        guard = ProgressGuard(session.name, QUERY_TOOL)
        while True:
            number += 1
            after = f" WHERE account > '{last}'" if last is not None else ""
            rows = await self._query(
                session,
                f"SELECT account, open.currencies, close.date FROM #accounts{after} ORDER BY account",
                page=number,
                width=3,
            )
            items = []
            for account, currencies, _closed in rows:
                self._opened.add(account)
                items.append(self._account(account, currencies))
            fetched += len(rows)
            last_page = len(rows) < self.row_cut
            if last_page and self.rounding_account and self.rounding_account not in self._opened:
                items.append(
                    self._account(self.rounding_account, "None", name=f"{self.rounding_account} (closeboard rounding)")
                )
                added = 1
            yield Page(items, None, total + added, None, number, self._nbytes)
            if last_page:
                break
            last = rows[-1][0]
            guard.page(number, rows, last)
        if fetched != total:
            raise ConnectorError(
                session.name,
                QUERY_TOOL,
                f"erp_accounts: read {fetched} accounts but the count query said {total} (the ledger changed during the pull?)",
                transient=True,
            )

    def _account(self, account: str, currencies: str, *, name: str | None = None) -> dict[str, Any]:
        return self.rules().account(account, _python_list(currencies), self._opened, name=name)

    def rules(self) -> Rules:
        return Rules(self.currency, self.account_types, self.subtypes, self.rounding_account, self.rounding_tolerance)

    async def _line_pages(self, session: SourceSession, where: str) -> AsyncIterator[Page]:
        windows = await self.windows(session, where)
        total = sum(w.count for w in windows)
        columns = ", ".join(c.format(ccy=self.currency) for c in _POSTING_COLUMNS)
        added = 0
        left_out: Counter[str] = Counter()
        for number, window in enumerate(windows, start=1):
            rows = await self._query(
                session, f"SELECT {columns} WHERE {window.where}", page=number, width=len(_POSTING_COLUMNS)
            )
            if len(rows) != window.count:
                raise ConnectorError(
                    session.name,
                    QUERY_TOOL,
                    f"erp_journal_lines: the window {window.where!r} returned {len(rows)} postings but its count "
                    f"query said {window.count} (the ledger changed during the pull?)",
                    transient=True,
                )
            try:
                items, rounding, window_left_out = self._entries(rows)
            except ValueError as exc:
                raise ConnectorError(session.name, QUERY_TOOL, f"erp_journal_lines, {window.where}: {exc}") from None
            added += rounding
            left_out.update(window_left_out)
            # the total so far: the postings counted, less the legs that are not money, plus rounding lines
            yield Page(items, None, total + added - left_out.total(), None, number, self._nbytes)
        self.left_out.update(left_out)
        if left_out:
            session.log.notes.append(
                f"erp_journal_lines{f' ({where})' if where else ''}: {left_out.total()} of {total} postings left "
                "out, not money (commodities without a price that balance within themselves in their transaction): "
                + ", ".join(f"{c} {n}" for c, n in sorted(left_out.items()))
            )

    async def _rate_pages(self, session: SourceSession) -> AsyncIterator[Page]:
        """erp_fx_rates from the ``price`` directives quoted in the reporting currency: one rate per
        (currency, date), the last price of that date as beancount's price map keeps it; read by keyset
        on (date, currency) and checked against a count of the prices."""
        quoted = f"amount.currency = {_bql_string(self.currency)}"
        prices = await self._count(session, f"SELECT count(*) FROM #prices WHERE {quoted}")
        last: tuple[str, str] | None = None
        number = read = rates = 0
        guard = ProgressGuard(session.name, QUERY_TOOL)
        while True:
            number += 1
            after = (
                f" AND (date > {last[0]} OR (date = {last[0]} AND currency > {_bql_string(last[1])}))"
                if last is not None
                else ""
            )
            rows = await self._query(
                session,
                f"SELECT date, currency, last(amount.number) AS rate, count(*) AS n FROM #prices "
                f"WHERE {quoted}{after} GROUP BY date, currency ORDER BY date, currency",
                page=number,
                width=4,
            )
            items = []
            for rate_date, currency, price, n in rows:
                try:
                    read += int(n)
                    value = rate(Decimal(price))
                except (ValueError, InvalidOperation):
                    items.append(
                        {
                            "_error": f"not a price: {price!r}",
                            "_record": {"currency": currency, "rate_date": rate_date, "rate": price},
                        }
                    )
                    continue
                items.append({"currency": currency, "rate_date": rate_date, "rate": _money(value)})
            rates += len(rows)
            last_page = len(rows) < self.row_cut
            # the total: one rate per (currency, date), so the prices counted less those of a date seen twice
            yield Page(items, None, prices - (read - rates), None, number, self._nbytes)
            if last_page:
                break
            last = (rows[-1][0], rows[-1][1])
            guard.page(number, rows, last)
        if read != prices:
            raise ConnectorError(
                session.name,
                QUERY_TOOL,
                f"erp_fx_rates: read {read} prices but the count query said {prices} (the ledger changed during the pull?)",
                transient=True,
            )

    async def _report_pages(self, session: SourceSession) -> AsyncIterator[Page]:
        """erp_trial_balance: the ledger's own balance per account at every report date, in the
        journal's money (the module docstring says how), with the rounding lines' share."""
        dates = self.report_dates()
        residuals = await self._residuals(session, dates[-1]) if dates and self.rounding_account else []
        movements, nbytes = await self._movements(session, dates) if dates else ({}, 0)

        async def read(day: date, number: int) -> tuple[list[dict[str, Any]], int | None, str | None, int]:
            balances: dict[str, Decimal] = {}
            for (month, account), moved in movements.items():  # every month up to the report date's
                if month <= (day.year, day.month):
                    balances[account] = balances.get(account, Decimal("0.00")) + moved
            if self.rounding_account is not None:
                booked = -sum((r for d, r in residuals if d <= day), Decimal("0.00"))
                if booked or self.rounding_account in balances:
                    balances[self.rounding_account] = balances.get(self.rounding_account, Decimal("0.00")) + booked
            rows = [
                {
                    "account_id": account,
                    "debit": _money(balance if balance > 0 else Decimal("0.00")),
                    "credit": _money(-balance if balance < 0 else Decimal("0.00")),
                }
                for account, balance in sorted(balances.items())
            ]
            return rows, None, None, nbytes if number == 1 else 0

        async for page in dated_reports(session.name, QUERY_TOOL, dates, read):
            yield page

    async def _movements(
        self, session: SourceSession, dates: list[date]
    ) -> tuple[dict[tuple[tuple[int, int], str], Decimal], int]:
        """Per month and account, Σ of its money postings' cents (0.00 for an account with none: the
        report lists it): the balances at the first report date as that month's (one BQL aggregate per
        account), then each later month's movements up to the last report date (one BQL aggregate
        grouped by year, month and account); both read on past the row cut by keyset. A report
        date's balance is the sum of its month and every earlier one."""
        value = _VALUE.format(ccy=_bql_string(self.currency))
        first, through = dates[0], dates[-1]
        moved: dict[tuple[tuple[int, int], str], Decimal] = {}
        opening, nbytes = await self._sums(session, ["account"], value, f"date <= {first.isoformat()}")
        for (account,), balance in opening:
            moved[((first.year, first.month), account)] = self._decimal(
                session, balance, f"the balance of {account} at {first}"
            )
        if through > first:
            later, more = await self._sums(
                session,
                ["year", "month", "account"],
                value,
                f"date > {first.isoformat()} AND date <= {through.isoformat()}",
            )
            nbytes += more
            for (year, month, account), balance in later:
                moved[((int(year), int(month)), account)] = self._decimal(
                    session, balance, f"the movement of {account} in {year}-{int(month):02d}"
                )
        return moved, nbytes

    async def _sums(
        self, session: SourceSession, keys: list[str], value: str, where: str
    ) -> tuple[list[tuple[list[str], str]], int]:
        """(keys, Σ value) per group of ``keys`` (BQL columns; the last a string, the others integers)
        among the postings matching ``where``, every group even past the row cut (keyset on the keys)."""
        found: list[tuple[list[str], str]] = []
        nbytes = 0
        last: list[str] | None = None
        guard = ProgressGuard(session.name, QUERY_TOOL)
        step = 0
        listed = ", ".join(keys)
        while True:
            step += 1
            after = ""
            if last is not None:  # (k1, k2, ..) > (v1, v2, ..), spelled out: BQL has no row comparison
                after = f"{keys[-1]} > {_bql_string(last[-1])}"
                for key, seen in reversed(list(zip(keys[:-1], last[:-1], strict=True))):
                    after = f"{key} > {seen} OR ({key} = {seen} AND ({after}))"
                after = f" AND ({after})"
            rows = await self._query(
                session,
                f"SELECT {listed}, sum({value}) AS balance WHERE {where}{after} GROUP BY {listed} ORDER BY {listed}",
                page=step,
                width=len(keys) + 1,
            )
            nbytes += self._nbytes
            found.extend((row[:-1], row[-1]) for row in rows)
            if len(rows) < self.row_cut:
                return found, nbytes
            last = rows[-1][:-1]
            guard.page(step, rows, last)

    async def _residuals(self, session: SourceSession, through: date) -> list[tuple[date, Decimal]]:
        """(date, cents) of every transaction up to ``through`` whose money, in cents, leaves a residual
        the journal books on the rounding account (not zero, within the tolerance); keyset on ``id``."""
        ccy = _bql_string(self.currency)
        money, value = _MONEY.format(ccy=ccy), _VALUE.format(ccy=ccy)
        found: list[tuple[date, Decimal]] = []
        last: str | None = None
        guard = ProgressGuard(session.name, QUERY_TOOL)
        step = 0
        while True:
            step += 1
            after = f" AND id > {_bql_string(last)}" if last is not None else ""
            query = (
                f"SELECT date, id, sum({value}) AS residual WHERE {money} AND date <= {through.isoformat()}"
                f"{after} GROUP BY date, id HAVING sum({value}) != 0 AND abs(sum({value})) <= "
                f"{_money(self.rounding_tolerance)} ORDER BY id"
            )
            rows = await self._query(session, query, width=3)
            for day, entry, residual in rows:
                try:
                    posted = date.fromisoformat(day)
                except ValueError:
                    raise ConnectorError(
                        session.name, QUERY_TOOL, f"erp_trial_balance: transaction {entry} has no date ({day!r})"
                    ) from None
                found.append((posted, self._decimal(session, residual, f"the cents residual of transaction {entry}")))
            if len(rows) < self.row_cut:
                return found
            last = rows[-1][1]
            guard.page(step, rows, last)

    @staticmethod
    def _decimal(session: SourceSession, text: str, what: str) -> Decimal:
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            raise ConnectorError(session.name, QUERY_TOOL, f"erp_trial_balance: {what} is not a number: {text!r}")
        return _cents(value)

    # -- postings to journal lines ---------------------------------------------------------------
    def _entries(self, rows: Sequence[list[str]]) -> tuple[list[dict[str, Any]], int, Counter[str]]:
        """Rows of whole transactions to canonical lines (and quarantine items, one per posting of a
        transaction set aside); the rounding lines added; the legs left out (not money), per commodity."""
        entries: dict[tuple[str, str, str], list[list[str]]] = {}
        for row in rows:
            entries.setdefault((row[0], row[1], row[10]), []).append(row)
        items: list[dict[str, Any]] = []
        rounding = 0
        left_out: Counter[str] = Counter()
        rules = self.rules()
        for (filename, lineno, digest), rows_of in entries.items():
            # a transaction a plugin made without a location: beanquery's hash of it
            entry_id = f"{filename}:{lineno}" if lineno != "None" else digest
            postings = [_posting(row) for row in rows_of]
            first = rows_of[0]
            link = sorted(_LINK.findall(first[9]))
            entry = map_entry(
                rules,
                entry_id,
                first[2],
                None if first[8] == "None" else first[8],
                link[0] if link else None,
                postings,
            )
            left_out.update(entry.left_out)
            if not entry.set_aside:
                items.extend(entry.lines)
                rounding += entry.rounding
                continue
            # set aside whole: every posting that is money (or should have been) is one rejected row
            reason = entry.reason()
            for line_no in entry.set_aside_postings(postings):
                p = rows_of[line_no - 1]
                items.append(
                    {
                        "_error": reason,
                        "_record": {
                            "entry_id": entry_id,
                            "line_no": line_no,
                            "date": p[2],
                            "account": p[3],
                            "units": f"{p[4]} {p[5]}",
                            "weight": p[6],
                            "postings": len(postings),
                        },
                    }
                )
        return items, rounding, left_out

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        good, rejected = [], []
        for item in items:
            if not isinstance(item, dict):
                raise MalformedItem(f"not a record: {item!r:.80}")
            if item.get("_error"):
                record = item.get("_record") or {k: v for k, v in item.items() if not k.startswith("_")}
                rejected.append((item_json(record), item["_error"]))
            else:
                good.append(item)
        return Mapped(to_text_batch(stream.table, good), rejected)


async def _no_pages() -> AsyncIterator[Page]:
    yield Page([], None, 0, None, 1, 0)


def _summed(text: str) -> str:
    """A BQL sum as the server prints it (``"None"`` when every term was null) as decimal text."""
    return "0" if text in ("None", "") else text


def _bql_string(text: str) -> str:
    """A BQL string literal (a commodity may contain an apostrophe; none contains both quotes)."""
    return f"'{text}'" if "'" not in text else f'"{text}"'


def _posting(row: list[str]) -> Posting:
    """A BQL row of the posting columns (``_POSTING_COLUMNS``) as a Posting."""
    number, units_ccy = row[4], row[5]
    return Posting(
        row[3],
        Decimal(number) if number not in ("None", "") else None,
        units_ccy,
        _amount(row[6]),
        _amount(row[7]),
    )


def _python_list(text: str) -> list[str]:
    """``"['USD']"`` (an open directive's currencies as the server prints them) as a list."""
    if text in ("None", ""):
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    return [str(v) for v in value] if isinstance(value, list | tuple) else []
