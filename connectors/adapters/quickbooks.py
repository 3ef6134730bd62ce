"""`quickbooks`: QuickBooks Online through Intuit's MCP server (intuit/quickbooks-online-mcp-server).

Read from its source (the stored versions of these files; the repository moves fast):
- ``src/helpers/register-tool.ts`` (commit 09bbd5fb131f8337e8adf2e4cd40f581d3f57cb5): every tool
  is registered with the input ``{params: <tool schema>}``, so arguments travel under ``params``.
- ``src/tools/search-accounts.tool.ts`` (1be15184b6cd0b7bee237488a4561a537c424510) and
  ``src/tools/search-invoices.tool.ts`` (2f103860029be689635ca0e78cea4d3b228d8d05):
  ``search_accounts`` / ``search_invoices`` take ``params.criteria``, here the advanced form
  ``{asc, limit, offset}``; ``src/tools/search-bills.tool.ts`` (71965db1f04cb5b9942a2b17115b2f156944b299):
  ``search_bills`` takes ``params.{limit, offset, asc}`` beside ``params.criteria``.
- output: several text contents: ``Found N invoices`` / ``Found N accounts:`` / ``Found N bills:``
  first, then one ``JSON.stringify(entity)`` per record (the QuickBooks API entity: ``Id``,
  ``TxnDate``, ``TotalAmt``, ``Balance``, ``CustomerRef {value, name}``, ``CurrencyRef``...).
- ``src/tools/search-bill-payments.tool.ts`` (71965db1f04cb5b9942a2b17115b2f156944b299) with
  ``src/handlers/search-quickbooks-bill-payments.handler.ts`` (397f0534339b463e54ca5072abbc7d5ee3aa03aa)
  and ``src/helpers/build-quickbooks-search-criteria.ts`` (0842c6d3342406ad957972bc502c2a5686afef07):
  ``search_bill_payments`` takes ``params.{criteria, asc, limit, offset}`` (turned into node-quickbooks'
  criteria array) and answers two text contents: ``Bill payments found:`` and
  ``JSON.stringify(QueryResponse.BillPayment ?? QueryResponse.totalCount ?? [])``: a JSON array of
  BillPayment entities (``Id``, ``TxnDate``, ``TotalAmt``, ``VendorRef``, ``CurrencyRef``, ``Line
  [{Amount, LinkedTxn [{TxnId, TxnType}]}]``), with no count to check against.
- ``src/tools/get-report.tool.ts`` (4d006bc7078268c2e1fc117ae324f0b76408b690) with
  ``src/handlers/get-quickbooks-report.handler.ts`` (same commit): ``get_report`` takes
  ``params.{reportName, start_date, end_date, accounting_method}``, calls node-quickbooks'
  ``reportQuery`` (``/v3/company/{realm}/reports/{reportName}``) and answers one text content,
  ``JSON.stringify(report)``, or ``Error fetching report: ...``. The TrialBalance report object (Intuit's
  published report shape, as copied in abossenbroek/qbo-mcp ``qbo-api-docs/entities/trialbalance.md``
  @ 36eb4c1f629d130aeb63a52b6f60d2b3d7576ada): ``Header {ReportName, StartPeriod, EndPeriod, Currency,
  Option [{Name: NoReportData, Value}]}``, ``Columns.Column [{ColTitle "", ColType Account}, {ColTitle
  Debit, ColType Money}, {ColTitle Credit, ColType Money}]``, ``Rows.Row [{ColData [{value: name, id:
  account Id}, {value: "15420.00"}, {value: ""}], type: Data, group}]`` ending with ``{Summary
  {ColData [{value: TOTAL}, debit total, credit total]}, type: Section, group: GrandTotal|Total}``.
- errors: ``Error searching invoices: ...``, ``Error fetching report: ...`` and ``Invalid criteria:
  ...`` as text, ``isError`` false: ``decode`` reports them.
- paging: the handlers pass the criteria to node-quickbooks (mcohen01/node-quickbooks ``index.js``,
  ``module.query`` / ``criteriaToString``, commit f5baf5d976c17ccc6786c5b19d9fbceb3b5aac0d), which
  turns ``offset`` into QuickBooks' 1-based ``STARTPOSITION`` and ``limit`` into ``MAXRESULTS``
  (at most 1000). This adapter orders by ``Id`` and asks for offset 1, 1+limit, ... until a page
  comes back short; each page's ``Found N`` must equal the records it carries. The server's count
  form answers no entities through ``search_invoices``, so there is no total to check against: a
  server (or proxy) capping its pages below ``limit`` would look like a short last page. So when
  the *first* page of a stream is short and not empty, one more call at the next offset must come
  back empty, else the pull fails saying the server caps pages at N (set ``options.page_size``).
- writes (``create_invoice``, ``update_bill``, ``delete_*``, ``create_journal_entry``...) are never
  declared: a config allow-listing one is refused.

Mapping:
- ``erp_accounts`` from Account: ``account_id`` the Id; type from Classification (Asset, Liability,
  Equity, Revenue, Expense), subtype from AccountType: Bank cash, Accounts Receivable ar, Accounts
  Payable ap, Cost of Goods Sold cogs, Long Term Liability debt; currency ``CurrencyRef.value``;
  parent ``ParentRef.value``. An account with neither a known Classification nor AccountType is
  quarantined.
- ``erp_invoices`` from Invoice, ``erp_bills`` from Bill: total ``TotalAmt``, balance ``Balance``;
  status void when the entity is voided (total 0 and a ``Voided`` private note), paid when the
  balance is 0, else open (QuickBooks has no draft invoices).
- ``erp_payments`` from BillPayment (when ``search_bill_payments`` is allow-listed): one line per
  ``Line`` that links exactly one Bill (``document_id`` its TxnId, ``amount`` the line's Amount, kind
  payment), and the unapplied rest of ``TotalAmt`` as a line without a document. A payment with a
  line linking anything else (a vendor credit, a journal entry) or lines exceeding its total is
  quarantined with the reason. Currency ``CurrencyRef``, else ``options.currency``.
- ``erp_journal_lines`` (``options.journals``; ``trial_balance`` is the default when ``get_report``
  is allow-listed): the General Ledger report's shape could not be verified (Intuit's page, as
  copied, lists only Header/Rows/Columns; its Amount column ``subt_nat_amount`` is signed by the
  account's natural side, undocumented), so the ledger is built like the Xero adapter's: one
  ``get_report`` TrialBalance per month end from the month before ``from_period`` to ``as_of``, asked
  ``{start_date: fiscal-year start, end_date: month end, accounting_method: Accrual}`` so that P&L
  accounts are fiscal-year-to-date and earlier years' profit sits in Retained Earnings. Each month
  books ``TB-YYYY-MM`` with each account's movement (``_vendor.month_movements``; the fiscal-year
  rollover into Retained Earnings taken out: ``options.retained_earnings``, else the account whose
  AccountSubType is RetainedEarnings, else the one named Retained Earnings). Whether an account is a
  P&L account comes from its Classification read by ``search_accounts`` in the same pull, else the
  row's ``group`` (Income, CostOfGoodsSold, Expenses, OtherIncome, OtherExpenses). A report that does
  not balance, disagrees with its TOTAL row, is in another currency, or has a row without an account
  id or an unknown class quarantines the entries it feeds; a report for another date than asked fails
  the source.
- Not read: customer payments (the server has no read tool for Payment entities at these commits,
  only ``update_payment``/``delete_payment``), credit memos, vendor credits, and journal entries one by
  one (``search_journal_entries`` answers like ``search_bill_payments``; the trial balance already
  covers them).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import date
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
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

CLASSIFICATION = {"Asset": "asset", "Liability": "liability", "Equity": "equity", "Revenue": "revenue",
                  "Expense": "expense"}
ACCOUNT_TYPE = {  # AccountType -> (type, subtype)
    "Bank": ("asset", "cash"), "Accounts Receivable": ("asset", "ar"), "Other Current Asset": ("asset", None),
    "Fixed Asset": ("asset", None), "Other Asset": ("asset", None),
    "Accounts Payable": ("liability", "ap"), "Credit Card": ("liability", None),
    "Other Current Liability": ("liability", None), "Long Term Liability": ("liability", "debt"),
    "Equity": ("equity", None), "Income": ("revenue", None), "Other Income": ("revenue", None),
    "Cost of Goods Sold": ("expense", "cogs"), "Expense": ("expense", None), "Other Expense": ("expense", None),
}
# tool -> where the paging criteria go: inside params.criteria, or beside it in params
TOOLS = {"search_accounts": "criteria", "search_invoices": "criteria", "search_bills": "params",
         "search_bill_payments": "params"}
TABLES = {"search_accounts": "erp_accounts", "search_invoices": "erp_invoices", "search_bills": "erp_bills",
          "search_bill_payments": "erp_payments"}
OPTIONAL = {"search_bill_payments"}  # read when allow-listed (configs older than it keep working)
REPORT = "get_report"
# TrialBalance row groups (Intuit's sample): which are P&L accounts
PL_GROUPS = {"Income", "OtherIncome", "CostOfGoodsSold", "Expenses", "OtherExpenses"}
BS_GROUPS = {"BankAccounts", "AccountsReceivable", "OtherCurrentAssets", "FixedAssets", "OtherAssets",
             "AccountsPayable", "CreditCards", "OtherCurrentLiabilities", "LongTermLiabilities", "Equity"}
_ERROR = re.compile(r"^\s*(?:Error [A-Za-z][A-Za-z ]*|Invalid criteria):")
_FOUND = re.compile(r"^Found (\d+) [A-Za-z ]+?:?\s*$")
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
                raise ConnectorError(session.name, stream.tool, f"page {number} holds {len(env.items)} records, more than {self.limit}")
            if number == 1 and 0 < len(env.items) < self.limit:
                # no total to check against: a short first page is either everything or the server's
                # own page cap (a proxy's MAXRESULTS); one more call at the next offset tells which
                probe, _ = await self.fetch(session, adapter, stream, self._params(start + len(env.items)), number + 1)
                if probe.items:
                    raise ConnectorError(
                        session.name, stream.tool,
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
            if summary and (row.get("group") in ("GrandTotal", "Total")
                            or str((summary[0] or {}).get("value", "")).strip().upper() == "TOTAL"):
                totals = (_cell_amount(summary[dr], "TOTAL Debit", problems),
                          _cell_amount(summary[cr], "TOTAL Credit", problems))
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
                problems.append(f"the trial balance at {as_at}: account {account} ({name}) was not read by "
                                f"search_accounts and its group {row.get('group')!r} is not known")
                continue
            if account in balances:
                problems.append(f"the trial balance at {as_at}: account {account} appears twice")
                continue
            balances[account] = (debit - credit, pl)
            balances.names[account] = name

    walk(report.get("Rows"))
    no_data = any(o.get("Name") == "NoReportData" and str(o.get("Value")).lower() == "true"
                  for o in header.get("Option") or [] if isinstance(o, dict))
    if debits != credits:
        problems.append(f"the trial balance at {as_at} does not balance: debits {text(debits)}, credits {text(credits)}")
    if totals is not None and totals != (debits, credits):
        problems.append(f"the trial balance at {as_at}: its rows sum to {text(debits)} / {text(credits)} but its "
                        f"TOTAL row says {text(totals[0])} / {text(totals[1])}")
    if totals is None and not (no_data and not balances):
        problems.append(f"the trial balance at {as_at} has no TOTAL row")
    return balances


class QuickBooksAdapter(TrialBalanceLedger, Adapter):
    name = "quickbooks"
    vendor = "QuickBooks"
    default_tools = (*TOOLS, REPORT)
    options = ("page_size", "journals", "currency", "from_period", "fiscal_year_start_month", "retained_earnings",
               "as_of")
    company_options = {"currency": ("currency", True), "fiscal_year_start_month": ("fiscal_year_start_month", True),
                       "from_period": ("first_period", False), "as_of": ("as_of", False)}

    def __init__(self) -> None:
        self.page_size = 1000
        self.allowed: frozenset[str] = frozenset()
        self.currency: str | None = None
        self.journals = "none"
        self.from_period: str | None = None
        self.fiscal_year_start_month: int | None = None
        self.retained_earnings: str | None = None
        self.as_of: date | None = None
        self._pl: dict[str, bool] = {}  # account Id -> P&L account, from search_accounts as it is decoded
        self._retained: list[str] = []  # accounts whose AccountSubType is RetainedEarnings

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
        journals = options.get("journals", "trial_balance" if REPORT in self.allowed else "none")
        if journals not in ("none", "trial_balance"):
            raise ValueError("options.journals: 'trial_balance' (month-end TrialBalance reports as monthly "
                             "movements) or 'none'")
        if journals == "trial_balance" and REPORT not in self.allowed:
            raise ValueError(f"options.journals 'trial_balance' reads {REPORT}: add it to allow_tools")
        self.journals = journals
        if journals == "trial_balance":
            self.configure_trial_balance(options)

    def trial_balance_arguments(self, as_at: date) -> dict[str, Any]:
        """TrialBalance from the start of the fiscal year: P&L accounts year to date, as Xero's."""
        start = fiscal_year_start(as_at, self.fiscal_year_start_month or 1)
        return {"params": {"reportName": "TrialBalance", "start_date": start.isoformat(),
                           "end_date": as_at.isoformat(), "accounting_method": "Accrual"}}

    def streams(self) -> list[Stream]:
        streams = [Stream(TABLES[tool], tool, paging=QuickBooksPaging(self.page_size, where))
                   for tool, where in TOOLS.items() if tool not in OPTIONAL or tool in self.allowed]
        if self.journals == "trial_balance":
            streams.append(Stream("erp_journal_lines", REPORT, paging=TrialBalancePaging(self)))
        return streams

    # -- reading the text ---------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        texts, size = text_contents(result, limit_bytes=limit_bytes, error=_ERROR)
        head = texts[0].strip()
        tool = stream.tool if stream is not None else None
        if tool == REPORT:
            if len(texts) != 1:
                raise ValueError(f"expected one text content (the report), got {len(texts)}")
            report = self._json(texts[0], "the report")
            return parse_trial_balance(report, pl_accounts=self._pl, currency=self.currency), size
        if _LIST_HEAD.match(head):  # "Bill payments found:" then one JSON array
            if len(texts) != 2:
                raise ValueError(f"expected {head!r} and one JSON array, got {len(texts)} text contents")
            items = self._json(texts[1], "the records")
            if not isinstance(items, list):
                raise ValueError(f"expected a JSON array of records, got {texts[1][:120]!r}")
            return items, size
        found = _FOUND.match(head)
        if not found:
            raise ValueError(f"expected 'Found N ...' first, got {head[:120]!r}")
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
        """Which accounts are P&L accounts, for the trial balance (decoded before any report is read)."""
        for r in items:
            if not isinstance(r, dict) or not r.get("Id"):
                continue
            kind = ACCOUNT_TYPE.get(r.get("AccountType", ""))
            type_ = CLASSIFICATION.get(r.get("Classification", "")) or (kind[0] if kind else None)
            if type_ is not None:
                self._pl[str(r["Id"])] = type_ in ("revenue", "expense")
            if r.get("AccountSubType") == "RetainedEarnings":
                self._retained.append(str(r["Id"]))

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        return Envelope([payload] if isinstance(payload, Balances) else payload)

    # -- mapping ------------------------------------------------------------------------------
    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        if stream.table == "erp_journal_lines":
            return map_each(stream.table, stream.tool, items, self.trial_balance_entry)
        if stream.table == "erp_payments":
            return map_each(stream.table, stream.tool, items, self._bill_payment)
        one = self._account if stream.table == "erp_accounts" else self._document
        return map_each(stream.table, stream.tool, items, lambda r: one(r, stream.table))

    def _account(self, r: dict[str, Any], table: str) -> dict[str, Any]:
        kind = ACCOUNT_TYPE.get(r.get("AccountType", ""))
        type_ = CLASSIFICATION.get(r.get("Classification", "")) or (kind[0] if kind else None)
        if type_ is None:
            raise Unmappable(f"Classification {r.get('Classification')!r} / AccountType {r.get('AccountType')!r} not known")
        currency = _ref(r.get("CurrencyRef"))
        if not r.get("Id") or currency is None:
            raise Unmappable("an account without Id or CurrencyRef")
        parent = _ref(r.get("ParentRef"))
        return {"account_id": str(r["Id"]), "name": r.get("Name"), "type": type_,
                "subtype": kind[1] if kind and kind[0] == type_ else None, "currency": currency[0],
                "parent_id": parent[0] if parent else None}

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
        return {key: str(r["Id"]), f"{party}_id": ref[0], f"{party}_name": ref[1],
                "issue_date": iso_date(r.get("TxnDate"), "TxnDate"), "due_date": optional_date(r.get("DueDate"), "DueDate"),
                "total": text(total), "balance": text(balance), "currency": currency[0], "status": status,
                "doc_type": "invoice", "voided_date": None}

    def _bill_payment(self, r: Any) -> list[dict[str, Any]]:
        if not isinstance(r, dict) or not r.get("Id"):
            raise Unmappable("a bill payment without Id")
        currency = (_ref(r.get("CurrencyRef")) or (self.currency, None))[0]
        if currency is None:
            raise Unmappable("a bill payment without CurrencyRef (and no options.currency)")
        paid = iso_date(r.get("TxnDate"), "TxnDate")
        total = money(r.get("TotalAmt"), "TotalAmt")
        base = {"payment_id": str(r["Id"]), "paid_date": paid, "currency": currency, "kind": "payment"}
        rows, applied = [], Decimal(0)
        for number, line in enumerate(r.get("Line") or [], start=1):
            if not isinstance(line, dict):
                raise Unmappable(f"line {number} is not an object")
            links = line.get("LinkedTxn") or []
            kinds = [str(link.get("TxnType")) for link in links if isinstance(link, dict)]
            if kinds != ["Bill"] or not links[0].get("TxnId"):
                raise Unmappable(f"line {number} links {kinds or 'nothing'}: only lines paying one Bill are read")
            amount = money(line.get("Amount"), f"line {number} Amount")
            applied += amount
            rows.append({**base, "line_no": str(number), "document_id": str(links[0]["TxnId"]), "amount": text(amount)})
        rest = total - applied
        if rest < 0:
            raise Unmappable(f"its lines pay {text(applied)}, more than its TotalAmt {text(total)}")
        if rest > 0:  # paid ahead of any bill: unapplied
            rows.append({**base, "line_no": str(len(rows) + 1), "document_id": None, "amount": text(rest)})
        return rows

    def retained_earnings_account(self, current: Balances) -> str | None:
        """The configured account, else the one whose AccountSubType is RetainedEarnings, else by name."""
        return self.retained_earnings or next(iter(self._retained), None) or super().retained_earnings_account(current)
