"""`quickbooks`: QuickBooks Online through Intuit's MCP server, intuit/quickbooks-online-mcp-server.

Read from Intuit's source at commit ead7222afd27d0c79d62a65ae5354f8bec62b493 (main, 2026-06-05; see
tests/vendors/quickbooks/UPSTREAM.md) with node-quickbooks 2.0.46, and run against it in
tests/connectors/test_adapters_quickbooks_server.py:
- ``src/helpers/register-tool.ts``: every tool's input is ``{params: <tool schema>}``.
- ``search_accounts`` / ``search_invoices`` (``src/tools/search-*.tool.ts``) take ``params.criteria``,
  here ``{asc: "Id", limit, offset}``; ``search_bills`` and ``search_bill_payments`` take ``params.{criteria,
  asc, limit, offset}``. node-quickbooks (``module.query`` / ``criteriaToString``) turns them into
  ``select * from X orderby Id asc startposition <offset> maxresults <limit>`` (1-based, at most 1000).
- answers, all text with ``isError`` false: ``Found N accounts:`` / ``Found N invoices`` / ``Found N
  bills:`` then one ``JSON.stringify(entity)`` per record; ``search_bill_payments`` answers ``Bill payments
  found:`` then ``JSON.stringify`` of node-quickbooks' whole answer, the raw ``{"QueryResponse":
  {"BillPayment": [...], "startPosition", "maxResults"}, "time"}`` (``{"QueryResponse": {}}`` past the end).
- ``search_payments`` (customer payments; ``src/handlers/search-quickbooks-payments.handler.ts``) takes
  ``params.{customer_ref, txn_date_from, txn_date_to, limit}`` and answers ``Found N payment(s):`` then one
  JSON array. It has no offset, so it cannot page: it is called once with ``limit: 1000`` (QBO's maximum)
  and an answer of 1000 fails the pull rather than cutting it short. Its date filter is broken upstream
  (``TxnDate: {$gte: ...}`` becomes ``TxnDate = [object Object]``, a QueryParserError): never sent.
- ``get_trial_balance`` / ``get_general_ledger`` take ``params.{start_date, end_date, accounting_method}``,
  call node-quickbooks' ``reportTrialBalance`` / ``reportGeneralLedgerDetail`` (``/reports/TrialBalance``,
  ``/reports/GeneralLedger`` with QBO's default columns) and answer ``Trial Balance Report:`` / ``General
  Ledger Report:`` then the report JSON (Header / Columns / Rows with ColData).
- errors: ``Error searching invoices: ...``, ``Error: Error: ...`` / ``Error: Unknown error: {"Fault":...}``
  (reports) and ``Invalid criteria: ...``, as text with ``isError`` false: ``decode`` fails the page.
- paging of the search tools: offset 1, 1+limit, ... until a page comes back short; each page's ``Found
  N`` must equal the records it carries (bill payments: ``maxResults`` must equal the records).
  There is no total to check against, so when the *first* page is short and not empty one more call at
  the next offset must come back empty, else the pull fails saying the server caps pages at N.
- writes (``create_*``, ``update_*``, ``delete_*``) are never declared: a config allow-listing one is refused.

Mapping:
- ``erp_accounts`` from Account: type from Classification, subtype from AccountType (Bank cash, Accounts
  Receivable ar, Accounts Payable ap, Cost of Goods Sold cogs, Long Term Liability debt); currency
  ``CurrencyRef``; parent ``ParentRef``. Neither a known Classification nor AccountType: quarantined.
- ``erp_invoices`` from Invoice, ``erp_bills`` from Bill: total ``TotalAmt``, balance ``Balance``; void
  when total 0 with a ``Voided`` private note, paid when the balance is 0, else open.
- ``erp_payments`` from BillPayment (``search_bill_payments``) and Payment (``search_payments``), each
  when allow-listed: one line per ``Line`` linking exactly one Bill (resp. Invoice), the unapplied rest
  of ``TotalAmt`` as a line without a document. A line linking anything else (a vendor credit, a credit
  memo) or lines exceeding the total quarantine the payment.
- ``erp_journal_lines``, ``options.journals``:
  - ``general_ledger`` (the default when ``get_general_ledger`` and ``get_trial_balance`` are allow-listed):
    the opening balances as one entry ``OPENING`` dated the day before ``from_period`` (the trial balance
    at that day from its fiscal-year start: balance-sheet accounts since inception, P&L year to date),
    then one General Ledger report per month from ``from_period`` to ``as_of``: each transaction is an
    entry ``<Transaction Type> <Id>`` (``Invoice 130``), one line per report row, posted on its Date.
    The Amount column (``subt_nat_amount``) is signed by the account's natural side: a debit for an
    asset or expense account when positive, a credit for a liability, equity or revenue account when
    positive (the account's Classification from ``search_accounts`` in the same pull). A transaction
    whose lines do not balance, or that names an account ``search_accounts`` did not read, is quarantined.
    ``customer_id`` / ``vendor_id`` come from the Name column for customer documents (Invoice, Payment,
    Sales Receipt, Credit Memo, Refund) and vendor documents (Bill, Bill Payment, Vendor Credit);
    ``document_id`` is the transaction itself for an invoice, bill or credit note, and the one document a
    payment settles when the payments read in the same pull say so.
  - ``trial_balance`` (only ``get_trial_balance``): one synthetic entry ``TB-YYYY-MM`` of movements per
    month end (``_vendor.TrialBalanceLedger``), P&L fiscal-year-to-date with the year-end rollover into
    Retained Earnings taken out (``options.retained_earnings``, else AccountSubType RetainedEarnings).
  - ``none``.
- ``erp_trial_balance`` (R7, the tie-out to QuickBooks' own report), in ``general_ledger`` mode only: the
  General Ledger report may leave lines out (a transaction type it does not list, a filter), so the
  TrialBalance report is read at every month-end from ``from_period``'s to ``as_of`` (the open month as at
  ``as_of``, default today in ``options.timezone``, the company's), on the journal's basis: QuickBooks'
  P&L balances run from the fiscal-year start and last year's profit rolls into Retained Earnings
  without a transaction, so each report becomes the OPENING trial balance (the same report the opening
  entry is booked from, read once) plus every month's ``_vendor.month_movements`` up to that month-end,
  the definition the ``trial_balance`` mode books its entries by (P&L restart at
  ``fiscal_year_start_month``, the rollover taken out of Retained Earnings). One row per account with a
  balance, debit the positive net, credit the negative. A report that does not balance, disagrees with
  its TOTAL row or names an account it cannot place fails the pull, naming the date: no tie-out
  against figures that are themselves wrong. In ``trial_balance`` mode the journal *is* the trial
  balance (a tie-out would pass by construction) and in ``none`` there is no journal: no
  ``erp_trial_balance`` is read and R7 reports "not available".
- Not read: credit memos, vendor credits, refunds, sales receipts as documents (their GL lines are read).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters._vendor import (
    Balances,
    TrialBalanceLedger,
    TrialBalancePaging,
    Unmappable,
    fiscal_year_start,
    iso_date,
    map_each,
    money,
    optional_date,
    text,
    text_contents,
)
from connectors.adapters.base import Adapter, Mapped, Stream
from connectors.adapters.paging import Envelope, Paging
from connectors.adapters.reports import REPORT_COMPANY_OPTIONS, MonthEndReports, dated_reports
from connectors.adapters.reports import TABLE as REPORT_TABLE
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

CLASSIFICATION = {
    "Asset": "asset",
    "Liability": "liability",
    "Equity": "equity",
    "Revenue": "revenue",
    "Expense": "expense",
}
ACCOUNT_TYPE = {  # AccountType -> (type, subtype)
    "Bank": ("asset", "cash"),
    "Accounts Receivable": ("asset", "ar"),
    "Other Current Asset": ("asset", None),
    "Fixed Asset": ("asset", None),
    "Other Asset": ("asset", None),
    "Accounts Payable": ("liability", "ap"),
    "Credit Card": ("liability", None),
    "Other Current Liability": ("liability", None),
    "Long Term Liability": ("liability", "debt"),
    "Equity": ("equity", None),
    "Income": ("revenue", None),
    "Other Income": ("revenue", None),
    "Cost of Goods Sold": ("expense", "cogs"),
    "Expense": ("expense", None),
    "Other Expense": ("expense", None),
}
# tool -> where the paging criteria go: inside params.criteria, or beside it in params
TOOLS = {
    "search_accounts": "criteria",
    "search_invoices": "criteria",
    "search_bills": "params",
    "search_bill_payments": "params",
}
TABLES = {
    "search_accounts": "erp_accounts",
    "search_invoices": "erp_invoices",
    "search_bills": "erp_bills",
    "search_bill_payments": "erp_payments",
}
PAYMENTS = "search_payments"  # customer payments: one call, no paging upstream
PAYMENTS_MAX = 1000  # QBO's MAXRESULTS
OPTIONAL = {"search_bill_payments", PAYMENTS}  # read when allow-listed (configs older than them keep working)
TB = "get_trial_balance"
GL = "get_general_ledger"
REPORT_HEADS = {TB: "Trial Balance Report:", GL: "General Ledger Report:"}
# TrialBalance row groups (Intuit's sample): which are P&L accounts
PL_GROUPS = {"Income", "OtherIncome", "CostOfGoodsSold", "Expenses", "OtherExpenses"}
BS_GROUPS = {
    "BankAccounts",
    "AccountsReceivable",
    "OtherCurrentAssets",
    "FixedAssets",
    "OtherAssets",
    "AccountsPayable",
    "CreditCards",
    "OtherCurrentLiabilities",
    "LongTermLiabilities",
    "Equity",
}
# General Ledger transaction types whose Name is a customer / a vendor, and which are documents themselves
CUSTOMER_TXNS = {"Invoice", "Payment", "Sales Receipt", "Credit Memo", "Refund"}
VENDOR_TXNS = {"Bill", "Bill Payment (Check)", "Bill Payment (Credit Card)", "Vendor Credit"}
DOCUMENT_TXNS = {"Invoice", "Bill", "Credit Memo", "Vendor Credit"}
_ERROR = re.compile(r"^\s*(?:Error(?: [A-Za-z][A-Za-z ]*)?|Invalid criteria):")
_FOUND = re.compile(r"^Found (\d+) [A-Za-z ()]+?:?\s*$")
_LIST_HEAD = re.compile(r"^[A-Z][A-Za-z ]+ found:\s*$")  # "Bill payments found:"


class QuickBooksPaging(Paging):
    """STARTPOSITION/MAXRESULTS through node-quickbooks' ``offset`` (1-based) and ``limit``."""

    kind = "offset"

    def __init__(self, limit: int, where: str) -> None:
        self.limit, self.where = limit, where

    def _params(self, start: int) -> dict[str, Any]:
        window = {"asc": "Id", "limit": self.limit, "offset": start}
        return {"params": {"criteria": window} if self.where == "criteria" else {"criteria": [], **window}}

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        start = 1
        for number in range(1, session.config.client.max_pages + 1):
            env, nbytes = await self.fetch(session, adapter, stream, self._params(start), number)
            if len(env.items) > self.limit:
                raise ConnectorError(
                    session.name, stream.tool, f"page {number} holds {len(env.items)} records, more than {self.limit}"
                )
            if number == 1 and 0 < len(env.items) < self.limit:
                # no total to check against: a short first page is either everything or the server's
                # own page cap (a proxy's MAXRESULTS); one more call at the next offset tells which
                probe, _ = await self.fetch(session, adapter, stream, self._params(start + len(env.items)), number + 1)
                if probe.items:
                    raise ConnectorError(
                        session.name,
                        stream.tool,
                        f"the server caps pages at {len(env.items)} records: asked for {self.limit}, page 1 held "
                        f"{len(env.items)} and offset {start + len(env.items)} held {len(probe.items)} more; set "
                        f"options.page_size to {len(env.items)} (nothing is read by guessing where the pages end)",
                    )
            yield Page(env.items, None, None, None, number, nbytes)
            if len(env.items) < self.limit:
                return
            start += len(env.items)
        raise ConnectorError(session.name, stream.tool, f"more than {session.config.client.max_pages} pages")


def _ref(value: Any) -> tuple[str, str | None] | None:
    if isinstance(value, dict) and value.get("value") not in (None, ""):
        return str(value["value"]), value.get("name")
    return None


def _cell_amount(cell: Any, what: str, problems: list[str]) -> Decimal:
    value = cell.get("value") if isinstance(cell, dict) else None
    if value in (None, ""):
        return Decimal(0)
    try:
        return money(str(value).replace(",", ""), what)
    except Unmappable as exc:
        problems.append(str(exc))
        return Decimal(0)


def parse_trial_balance(report: Any, *, pl_accounts: dict[str, bool], currency: str | None) -> Balances:
    """A TrialBalance report object (Header / Columns / Rows with ColData) as ``Balances``: each
    account's Debit - Credit, flagged P&L from ``pl_accounts`` (search_accounts) or the row's group.
    Shape errors fail the page (ValueError); what makes the figures untrustworthy goes to
    ``problems`` (the months it feeds are quarantined)."""
    if not isinstance(report, dict) or not isinstance(report.get("Header"), dict):
        raise ValueError("the report has no Header")
    header = report["Header"]
    if header.get("ReportName") != "TrialBalance":
        raise ValueError(f"asked for TrialBalance, got the report {header.get('ReportName')!r}")
    try:
        as_at = date.fromisoformat(str(header.get("EndPeriod")))
    except ValueError:
        raise ValueError(f"the report's EndPeriod {header.get('EndPeriod')!r} is not YYYY-MM-DD") from None
    columns = [c.get("ColTitle") for c in (report.get("Columns") or {}).get("Column") or [] if isinstance(c, dict)]
    if "Debit" not in columns or "Credit" not in columns:
        raise ValueError(f"the report has no Debit / Credit columns: {columns}")
    dr, cr = columns.index("Debit"), columns.index("Credit")
    balances = Balances(as_at)
    problems = balances.problems
    if currency and header.get("Currency") not in (None, "", currency):
        problems.append(f"the trial balance at {as_at} is in {header.get('Currency')}, not {currency}")
    debits = credits = Decimal(0)
    totals: tuple[Decimal, Decimal] | None = None

    def walk(container: Any) -> None:
        nonlocal debits, credits, totals
        for row in (container or {}).get("Row") or []:
            if not isinstance(row, dict):
                raise ValueError("a report row that is not an object")
            if isinstance(row.get("Rows"), dict):
                walk(row["Rows"])
            summary = (row.get("Summary") or {}).get("ColData")
            if summary and (
                row.get("group") in ("GrandTotal", "Total")
                or str((summary[0] or {}).get("value", "")).strip().upper() == "TOTAL"
            ):
                totals = (
                    _cell_amount(summary[dr], "TOTAL Debit", problems),
                    _cell_amount(summary[cr], "TOTAL Credit", problems),
                )
            cells = row.get("ColData")
            if not isinstance(cells, list):
                continue
            if len(cells) <= max(dr, cr):
                raise ValueError(f"a row with {len(cells)} cells where {len(columns)} columns were announced")
            name = str((cells[0] or {}).get("value", "")).strip()
            account = str((cells[0] or {}).get("id") or "").strip()
            debit = _cell_amount(cells[dr], f"{name} Debit", problems)
            credit = _cell_amount(cells[cr], f"{name} Credit", problems)
            debits, credits = debits + debit, credits + credit
            if not account:
                if debit or credit:
                    problems.append(f"the trial balance at {as_at}: row {name!r} names no account id")
                continue
            pl = pl_accounts.get(account)
            if pl is None:
                group = row.get("group")
                pl = True if group in PL_GROUPS else False if group in BS_GROUPS else None
            if pl is None:
                problems.append(
                    f"the trial balance at {as_at}: account {account} ({name}) was not read by "
                    f"search_accounts and its group {row.get('group')!r} is not known"
                )
                continue
            if account in balances:
                problems.append(f"the trial balance at {as_at}: account {account} appears twice")
                continue
            balances[account] = (debit - credit, pl)
            balances.names[account] = name

    walk(report.get("Rows"))
    no_data = any(
        o.get("Name") == "NoReportData" and str(o.get("Value")).lower() == "true"
        for o in header.get("Option") or []
        if isinstance(o, dict)
    )
    if debits != credits:
        problems.append(
            f"the trial balance at {as_at} does not balance: debits {text(debits)}, credits {text(credits)}"
        )
    if totals is not None and totals != (debits, credits):
        problems.append(
            f"the trial balance at {as_at}: its rows sum to {text(debits)} / {text(credits)} but its "
            f"TOTAL row says {text(totals[0])} / {text(totals[1])}"
        )
    if totals is None and not (no_data and not balances):
        problems.append(f"the trial balance at {as_at} has no TOTAL row")
    return balances


_GL_KEYS = {
    "tx_date": "Date",
    "txn_type": "Transaction Type",
    "doc_num": "Num",
    "name": "Name",
    "memo": "Memo/Description",
    "subt_nat_amount": "Amount",
}


def _gl_columns(report: dict[str, Any]) -> dict[str, int]:
    """Column positions by ColKey (MetaData), else by title; Date, Transaction Type and Amount required."""
    found: dict[str, int] = {}
    for index, column in enumerate((report.get("Columns") or {}).get("Column") or []):
        if not isinstance(column, dict):
            continue
        keys = {
            m.get("Value") for m in column.get("MetaData") or [] if isinstance(m, dict) and m.get("Name") == "ColKey"
        }
        for key, title in _GL_KEYS.items():
            if key in keys or (not keys and column.get("ColTitle") == title):
                found.setdefault(key, index)
    missing = [_GL_KEYS[k] for k in ("tx_date", "txn_type", "subt_nat_amount") if k not in found]
    if missing:
        raise ValueError(f"the General Ledger report has no {', '.join(missing)} column")
    return found


def parse_general_ledger(
    report: Any, *, start: date, end: date, natural_debit: dict[str, bool], names: dict[str, str]
) -> list[dict[str, Any]]:
    """A GeneralLedger report (one Section per account, one Data row per posting) as transactions:
    ``{entry_id, posted_date, txn_type, txn_id, name, lines: [(account, debit-positive amount, memo)],
    problems}``. The report must be for the month asked; a row outside it, or one whose account, date
    or amount cannot be read, is a problem of its transaction (quarantined), never dropped silently."""
    if not isinstance(report, dict) or not isinstance(report.get("Header"), dict):
        raise ValueError("the report has no Header")
    header = report["Header"]
    if header.get("ReportName") != "GeneralLedger":
        raise ValueError(f"asked for GeneralLedger, got the report {header.get('ReportName')!r}")
    if (header.get("StartPeriod"), header.get("EndPeriod")) != (start.isoformat(), end.isoformat()):
        raise ValueError(
            f"asked for the General Ledger {start} to {end}, got {header.get('StartPeriod')} to "
            f"{header.get('EndPeriod')}"
        )
    cols = _gl_columns(report)
    width = max(cols.values()) + 1
    by_name = {n: a for a, n in names.items()}
    txns: dict[tuple[str, str], dict[str, Any]] = {}
    orphans: list[str] = []

    def cell(cells: list[Any], key: str) -> dict[str, Any]:
        index = cols.get(key)
        value = cells[index] if index is not None and index < len(cells) else None
        return value if isinstance(value, dict) else {}

    def walk(container: Any, account: str | None, account_name: str) -> None:
        for row in (container or {}).get("Row") or []:
            if not isinstance(row, dict):
                raise ValueError("a report row that is not an object")
            head = ((row.get("Header") or {}).get("ColData") or [None])[0]
            here, here_name = account, account_name
            if isinstance(head, dict):
                here_name = str(head.get("value") or "").strip()
                here = str(head.get("id") or "") or by_name.get(here_name)
            if isinstance(row.get("Rows"), dict):
                walk(row["Rows"], here, here_name)
            cells = row.get("ColData")
            if not isinstance(cells, list):
                continue
            if len(cells) < width:
                raise ValueError(f"a row with {len(cells)} cells where {width} columns were announced")
            kind = cell(cells, "txn_type")
            txn_id, txn_type = str(kind.get("id") or ""), str(kind.get("value") or "").strip()
            raw_amount = cell(cells, "subt_nat_amount").get("value")
            if not txn_id:
                if raw_amount not in (None, "") and Decimal(str(raw_amount).replace(",", "") or 0) != 0:
                    orphans.append(f"{account_name}: a row of {raw_amount} names no transaction")
                continue  # Beginning Balance
            txn = txns.setdefault(
                (txn_type, txn_id),
                {
                    "entry_id": f"{txn_type} {txn_id}",
                    "txn_type": txn_type,
                    "txn_id": txn_id,
                    "posted_date": None,
                    "name": None,
                    "lines": [],
                    "problems": [],
                },
            )
            problems = txn["problems"]
            try:
                posted = iso_date(cell(cells, "tx_date").get("value"), "Date")
            except Unmappable as exc:
                problems.append(str(exc))
                continue
            if not start.isoformat() <= posted <= end.isoformat():
                problems.append(f"a row dated {posted}, outside the report's {start} to {end}")
            if txn["posted_date"] not in (None, posted):
                problems.append(f"rows dated {txn['posted_date']} and {posted}")
            txn["posted_date"] = txn["posted_date"] or posted
            name = cell(cells, "name")
            if name.get("id"):
                txn["name"] = str(name["id"])
            if not here:
                problems.append(f"a row in the section {here_name!r}, which names no account id")
                continue
            if here not in natural_debit:
                problems.append(f"account {here} ({here_name}) was not read by search_accounts")
                continue
            amount = _cell_amount(cell(cells, "subt_nat_amount"), f"{txn_type} {txn_id} Amount", problems)
            signed = amount if natural_debit[here] else -amount
            txn["lines"].append((here, signed, str(cell(cells, "memo").get("value") or "") or None))

    walk(report.get("Rows"), None, "")
    if orphans:
        raise ValueError("; ".join(orphans))
    return list(txns.values())


class OpeningPaging(Paging):
    """One trial balance, the day before ``from_period``: the opening entry of the general-ledger mode."""

    kind = "none"

    def __init__(self, adapter: QuickBooksAdapter) -> None:
        self.adapter = adapter

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        me = self.adapter
        day = me.opening_date()
        env, nbytes = await self.fetch(session, adapter, stream, me.trial_balance_arguments(day), 1)
        current = env.items[0]
        if current.as_at != day:
            raise ConnectorError(
                session.name, stream.tool, f"asked for the trial balance at {day}, got one at {current.as_at}"
            )
        me._opening = current  # the tie-out (TieOutPaging) starts from the same report
        yield Page(
            [{"entry_id": "OPENING", "posted_date": day, "previous": None, "current": current}],
            None,
            None,
            None,
            1,
            nbytes,
        )


class TieOutPaging(Paging):
    """R7's input in ``general_ledger`` mode: QuickBooks' TrialBalance at every month-end, re-based to the
    journal's since-inception basis (the opening trial balance plus each month's ``movements``), one
    canonical ``erp_trial_balance`` row per account with a balance (``reports.dated_reports``)."""

    kind = "none"

    def __init__(self, adapter: QuickBooksAdapter) -> None:
        self.adapter = adapter

    def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        me = self.adapter
        opening_day = me.opening_date()
        state: dict[str, Any] = {"previous": None, "balances": {}}

        def trusted(report: Balances, day: date) -> Balances:
            if report.as_at != day:
                raise ConnectorError(
                    session.name, stream.tool, f"asked for the trial balance at {day}, got one at {report.as_at}"
                )
            if report.problems:
                raise ConnectorError(
                    session.name,
                    stream.tool,
                    f"R7 cannot tie out to QuickBooks' trial balance at {day}: " + "; ".join(report.problems),
                )
            return report

        async def report(day: date, number: int) -> tuple[Balances, int]:
            env, nbytes = await self.fetch(session, adapter, stream, me.trial_balance_arguments(day), number)
            return trusted(env.items[0], day), nbytes

        def move(previous: Balances | None, current: Balances) -> None:
            try:
                moves = me.movements(previous, current)
            except Unmappable as exc:
                raise ConnectorError(
                    session.name, stream.tool, f"the trial balance at {current.as_at}: {exc}"
                ) from None
            balances = state["balances"]
            for account, amount in moves.items():
                balances[account] = balances.get(account, Decimal(0)) + amount
            state["previous"] = current

        async def read(day: date, number: int) -> tuple[list[dict[str, Any]], int | None, str | None, int]:
            nbytes = 0
            if state["previous"] is None:  # the opening trial balance: already read for the OPENING entry
                opening = me._opening
                if opening is None or opening.as_at != opening_day:
                    opening, nbytes = await report(opening_day, number)
                move(None, trusted(opening, opening_day))
            current, size = await report(day, number)
            move(state["previous"], current)
            rows = [
                {"account_id": account, "debit": text(max(net, Decimal(0))), "credit": text(max(-net, Decimal(0)))}
                for account, net in sorted(state["balances"].items())
                if net != 0
            ]
            return rows, None, None, nbytes + size

        return dated_reports(session.name, stream.tool, me.report_dates(), read)


class QuickBooksAdapter(TrialBalanceLedger, MonthEndReports, Adapter):
    name = "quickbooks"
    vendor = "QuickBooks"
    default_tools = (*TOOLS, PAYMENTS, TB, GL)
    options = (
        "page_size",
        "journals",
        "currency",
        "from_period",
        "fiscal_year_start_month",
        "retained_earnings",
        "as_of",
        "timezone",
    )
    company_options = {
        "currency": ("currency", True),
        "fiscal_year_start_month": ("fiscal_year_start_month", True),
        **REPORT_COMPANY_OPTIONS,
    }

    def __init__(self) -> None:
        self.page_size = 1000
        self.allowed: frozenset[str] = frozenset()
        self.currency: str | None = None
        self.journals = "none"
        self.from_period: str | None = None
        self.fiscal_year_start_month: int | None = None
        self.retained_earnings: str | None = None
        self.as_of: date | None = None
        self.timezone = "UTC"
        self._opening: Balances | None = None  # the opening trial balance, read once per pull
        self._pl: dict[str, bool] = {}  # account Id -> P&L account, from search_accounts as it is decoded
        self._debit: dict[str, bool] = {}  # account Id -> debit-natural (asset, expense)
        self._names: dict[str, str] = {}  # account Id -> FullyQualifiedName
        self._retained: list[str] = []  # accounts whose AccountSubType is RetainedEarnings
        self._settles: dict[tuple[str, str], list[str]] = {}  # (Payment|BillPayment, Id) -> documents it pays

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        self.allowed = frozenset(config.allow_tools)
        self.page_size = int(options.get("page_size", 1000))
        if not 1 <= self.page_size <= 1000:
            raise ValueError("options.page_size: 1 to 1000 (QuickBooks' MAXRESULTS)")
        currency = options.get("currency")
        if currency not in (None, "") and not (isinstance(currency, str) and re.fullmatch(r"[A-Z]{3}", currency)):
            raise ValueError(f"options.currency: {currency!r} is not a currency code such as USD")
        self.currency = currency or None
        default = "general_ledger" if {GL, TB} <= self.allowed else "trial_balance" if TB in self.allowed else "none"
        journals = options.get("journals", default)
        if journals not in ("none", "trial_balance", "general_ledger"):
            raise ValueError(
                "options.journals: 'general_ledger' (the General Ledger report month by month, opened "
                "by the trial balance), 'trial_balance' (month-end trial balances as monthly "
                "movements) or 'none'"
            )
        need = {"general_ledger": (GL, TB), "trial_balance": (TB,), "none": ()}[journals]
        missing = [t for t in need if t not in self.allowed]
        if missing:
            raise ValueError(
                f"options.journals {journals!r} reads {', '.join(need)}: add {', '.join(missing)} to allow_tools"
            )
        self.journals = journals
        self._opening = None
        self.configure_report_dates(options)  # the time zone "today" is in; from_period and as_of checked below
        if journals != "none":
            self.configure_trial_balance(options)

    def trial_balance_arguments(self, as_at: date) -> dict[str, Any]:
        """TrialBalance from the start of the fiscal year: P&L accounts year to date."""
        start = fiscal_year_start(as_at, self.fiscal_year_start_month or 1)
        return {
            "params": {"start_date": start.isoformat(), "end_date": as_at.isoformat(), "accounting_method": "Accrual"}
        }

    def opening_date(self) -> date:
        assert self.from_period is not None
        return date.fromisoformat(f"{self.from_period}-01") - timedelta(days=1)

    def ledger_months(self) -> list[tuple[date, date]]:
        """(first day, last day or as_of) of each month from ``from_period`` to ``as_of``: the months whose
        ends R7 ties out at (``report_dates``)."""
        return [(end.replace(day=1), end) for end in self.report_dates()]

    def streams(self) -> list[Stream]:
        streams = [
            Stream(TABLES[tool], tool, paging=QuickBooksPaging(self.page_size, where))
            for tool, where in TOOLS.items()
            if tool not in OPTIONAL or tool in self.allowed
        ]
        if PAYMENTS in self.allowed:
            streams.append(Stream("erp_payments", PAYMENTS, {"params": {"limit": PAYMENTS_MAX}}, paged=False))
        if self.journals == "trial_balance":
            streams.append(Stream("erp_journal_lines", TB, paging=TrialBalancePaging(self)))
        elif self.journals == "general_ledger":
            streams.append(Stream("erp_journal_lines", TB, paging=OpeningPaging(self)))
            streams += [
                Stream(
                    "erp_journal_lines",
                    GL,
                    {
                        "params": {
                            "start_date": first.isoformat(),
                            "end_date": last.isoformat(),
                            "accounting_method": "Accrual",
                        }
                    },
                    paged=False,
                )
                for first, last in self.ledger_months()
            ]
            # R7: QuickBooks' own trial balance at each month-end (in trial_balance mode the journal is it)
            streams.append(Stream(REPORT_TABLE, TB, paging=TieOutPaging(self)))
        return streams

    # -- reading the text ---------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        texts, size = text_contents(result, limit_bytes=limit_bytes, error=_ERROR)
        head = texts[0].strip()
        tool = stream.tool if stream is not None else None
        if tool in REPORT_HEADS:
            if len(texts) != 2 or head != REPORT_HEADS[tool]:
                raise ValueError(
                    f"expected {REPORT_HEADS[tool]!r} and the report, got {len(texts)} text contents "
                    f"starting {head[:80]!r}"
                )
            report = self._json(texts[1], "the report")
            if tool == TB:
                return parse_trial_balance(report, pl_accounts=self._pl, currency=self.currency), size
            assert stream is not None
            window = stream.arguments["params"]
            return parse_general_ledger(
                report,
                start=date.fromisoformat(window["start_date"]),
                end=date.fromisoformat(window["end_date"]),
                natural_debit=self._debit,
                names=self._names,
            ), size
        if _LIST_HEAD.match(head):  # "Bill payments found:" then node-quickbooks' raw answer
            if len(texts) != 2:
                raise ValueError(f"expected {head!r} and one JSON object, got {len(texts)} text contents")
            answer = self._json(texts[1], "the answer")
            query = answer.get("QueryResponse") if isinstance(answer, dict) else None
            if not isinstance(query, dict):
                raise ValueError(f'expected {{"QueryResponse": ...}}, got {texts[1][:120]!r}')
            items = query.get("BillPayment", [])
            if not isinstance(items, list):
                raise ValueError("QueryResponse.BillPayment is not a list")
            if items and query.get("maxResults") not in (None, len(items)):
                raise ValueError(
                    f"QueryResponse says maxResults {query.get('maxResults')} but holds {len(items)} "
                    "bill payments: the answer is incomplete"
                )
            self._learn_settlements("BillPayment", items, "Bill")
            return items, size
        found = _FOUND.match(head)
        if not found:
            raise ValueError(f"expected 'Found N ...' first, got {head[:120]!r}")
        if tool == PAYMENTS:
            if len(texts) != 2:
                raise ValueError(f"expected {head!r} and one JSON array, got {len(texts)} text contents")
            items = self._json(texts[1], "the payments")
            if not isinstance(items, list) or len(items) != int(found.group(1)):
                raise ValueError(
                    f"the server said {head!r} but sent {len(items) if isinstance(items, list) else 'no'} "
                    "payments: the answer is incomplete"
                )
            if len(items) >= PAYMENTS_MAX:
                raise ValueError(
                    f"{PAYMENTS} answered {len(items)} customer payments, its most: Intuit's server cannot page "
                    "them (the tool has no offset, and its date filter is broken), so the rest cannot be read. "
                    f"Remove {PAYMENTS} from allow_tools to load the other tables without customer payments"
                )
            self._learn_settlements("Payment", items, "Invoice")
            return items, size
        if int(found.group(1)) != len(texts) - 1:
            raise ValueError(f"the server said {head!r} but sent {len(texts) - 1} records: the answer is incomplete")
        items = [self._json(block, f"record {n}") for n, block in enumerate(texts[1:], start=1)]
        if tool == "search_accounts":
            self._learn_accounts(items)
        return items, size

    @staticmethod
    def _json(block: str, what: str) -> Any:
        try:
            return json.loads(block, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{what} is not JSON ({exc.msg}): {block[:120]!r}") from None

    def _learn_accounts(self, items: list[Any]) -> None:
        """Each account's class and natural side, for the reports (decoded before any report is read)."""
        for r in items:
            if not isinstance(r, dict) or not r.get("Id"):
                continue
            kind = ACCOUNT_TYPE.get(r.get("AccountType", ""))
            type_ = CLASSIFICATION.get(r.get("Classification", "")) or (kind[0] if kind else None)
            account = str(r["Id"])
            if type_ is not None:
                self._pl[account] = type_ in ("revenue", "expense")
                self._debit[account] = type_ in ("asset", "expense")
            self._names[account] = str(r.get("FullyQualifiedName") or r.get("Name") or "")
            if r.get("AccountSubType") == "RetainedEarnings":
                self._retained.append(account)

    def _learn_settlements(self, kind: str, items: list[Any], document: str) -> None:
        for r in items:
            if isinstance(r, dict) and r.get("Id"):
                docs = [
                    str(link.get("TxnId"))
                    for line in r.get("Line") or []
                    if isinstance(line, dict)
                    for link in line.get("LinkedTxn") or []
                    if isinstance(link, dict) and link.get("TxnType") == document
                ]
                self._settles[(kind, str(r["Id"]))] = docs

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        return Envelope([payload] if isinstance(payload, Balances) else payload)

    # -- mapping ------------------------------------------------------------------------------
    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        if stream.table == REPORT_TABLE:  # canonical rows already (TieOutPaging)
            return Mapped(self.to_batch(stream, items))
        if stream.table == "erp_journal_lines":
            one = self.trial_balance_entry if stream.tool == TB else self._gl_entry
            return map_each(stream.table, stream.tool, items, one)
        if stream.table == "erp_payments":
            kind = ("Bill", "vendor") if stream.tool == "search_bill_payments" else ("Invoice", "customer")
            return map_each(stream.table, stream.tool, items, lambda r: self._payment(r, *kind))
        one = self._account if stream.table == "erp_accounts" else self._document
        return map_each(stream.table, stream.tool, items, lambda r: one(r, stream.table))

    def _account(self, r: dict[str, Any], table: str) -> dict[str, Any]:
        kind = ACCOUNT_TYPE.get(r.get("AccountType", ""))
        type_ = CLASSIFICATION.get(r.get("Classification", "")) or (kind[0] if kind else None)
        if type_ is None:
            raise Unmappable(
                f"Classification {r.get('Classification')!r} / AccountType {r.get('AccountType')!r} not known"
            )
        currency = _ref(r.get("CurrencyRef"))
        if not r.get("Id") or currency is None:
            raise Unmappable("an account without Id or CurrencyRef")
        parent = _ref(r.get("ParentRef"))
        return {
            "account_id": str(r["Id"]),
            "name": r.get("Name"),
            "type": type_,
            "subtype": kind[1] if kind and kind[0] == type_ else None,
            "currency": currency[0],
            "parent_id": parent[0] if parent else None,
        }

    def _document(self, r: dict[str, Any], table: str) -> dict[str, Any]:
        party = "customer" if table == "erp_invoices" else "vendor"
        ref = _ref(r.get("CustomerRef" if party == "customer" else "VendorRef"))
        currency = _ref(r.get("CurrencyRef"))
        if not r.get("Id") or ref is None:
            raise Unmappable(f"a document without Id or {'CustomerRef' if party == 'customer' else 'VendorRef'}")
        if currency is None:
            raise Unmappable("a document without CurrencyRef")
        total, balance = money(r.get("TotalAmt"), "TotalAmt"), money(r.get("Balance"), "Balance")
        voided = total == 0 and str(r.get("PrivateNote", "")).startswith("Voided")
        status = "void" if voided else ("paid" if balance == 0 else "open")
        key = "invoice_id" if party == "customer" else "bill_id"
        return {
            key: str(r["Id"]),
            f"{party}_id": ref[0],
            f"{party}_name": ref[1],
            "issue_date": iso_date(r.get("TxnDate"), "TxnDate"),
            "due_date": optional_date(r.get("DueDate"), "DueDate"),
            "total": text(total),
            "balance": text(balance),
            "currency": currency[0],
            "status": status,
            "doc_type": "invoice",
            "voided_date": None,
        }

    def _payment(self, r: Any, document: str, party: str) -> list[dict[str, Any]]:
        what = "a bill payment" if document == "Bill" else "a customer payment"
        if not isinstance(r, dict) or not r.get("Id"):
            raise Unmappable(f"{what} without Id")
        currency = (_ref(r.get("CurrencyRef")) or (self.currency, None))[0]
        if currency is None:
            raise Unmappable(f"{what} without CurrencyRef (and no options.currency)")
        paid = iso_date(r.get("TxnDate"), "TxnDate")
        total = money(r.get("TotalAmt"), "TotalAmt")
        base = {"payment_id": str(r["Id"]), "paid_date": paid, "currency": currency, "kind": "payment"}
        rows, applied = [], Decimal(0)
        for number, line in enumerate(r.get("Line") or [], start=1):
            if not isinstance(line, dict):
                raise Unmappable(f"line {number} is not an object")
            links = line.get("LinkedTxn") or []
            kinds = [str(link.get("TxnType")) for link in links if isinstance(link, dict)]
            if kinds != [document] or not links[0].get("TxnId"):
                raise Unmappable(f"line {number} links {kinds or 'nothing'}: only lines paying one {document} are read")
            amount = money(line.get("Amount"), f"line {number} Amount")
            applied += amount
            rows.append({**base, "line_no": str(number), "document_id": str(links[0]["TxnId"]), "amount": text(amount)})
        rest = total - applied
        if rest < 0:
            raise Unmappable(f"its lines pay {text(applied)}, more than its TotalAmt {text(total)}")
        if rest > 0:  # paid ahead of any document: unapplied
            rows.append({**base, "line_no": str(len(rows) + 1), "document_id": None, "amount": text(rest)})
        return rows

    def _gl_entry(self, txn: dict[str, Any]) -> list[dict[str, Any]]:
        """One transaction of the General Ledger report as journal lines, or Unmappable."""
        if txn["problems"]:
            raise Unmappable(f"{txn['entry_id']}: " + "; ".join(txn["problems"]))
        lines = txn["lines"]
        net = sum((amount for _, amount, _ in lines), Decimal(0))
        if net != 0:
            raise Unmappable(f"{txn['entry_id']}: its lines do not balance (debits minus credits {text(net)})")
        kind, name = txn["txn_type"], txn["name"]
        if kind in DOCUMENT_TXNS:
            document: str | None = txn["txn_id"]
        else:
            settles = self._settles.get(("Payment" if kind == "Payment" else "BillPayment", txn["txn_id"]), [])
            document = settles[0] if kind in ("Payment", *VENDOR_TXNS) and len(settles) == 1 else None
        return [
            {
                "entry_id": txn["entry_id"],
                "line_no": str(number),
                "posted_date": txn["posted_date"],
                "account_id": account,
                "debit": text(max(amount, Decimal(0))),
                "credit": text(max(-amount, Decimal(0))),
                "currency": self.currency,
                "amount_currency": None,
                "description": memo or kind,
                "customer_id": name if kind in CUSTOMER_TXNS else None,
                "vendor_id": name if kind in VENDOR_TXNS else None,
                "document_id": document,
            }
            for number, (account, amount, memo) in enumerate(lines, start=1)
        ]

    def retained_earnings_account(self, current: Balances) -> str | None:
        """The configured account, else the one whose AccountSubType is RetainedEarnings, else by name."""
        return self.retained_earnings or next(iter(self._retained), None) or super().retained_earnings_account(current)
