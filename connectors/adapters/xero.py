"""`xero`: Xero's official MCP server (``@xeroapi/xero-mcp-server``).

Proved against the published npm package 0.0.17, unmodified, run over stdio with its HTTPS sent to a
stand-in for Xero's API (tests/connectors/test_adapters_xero_server.py, tests/vendors/xero/); first
read from its source, github.com/XeroAPI/xero-mcp-server at commit
1b2e9b332086fa0887c8248010b4bc75083491d1 (0.0.16). Facts of 0.0.17 that shape this adapter:

- sign-in: client credentials (``XERO_CLIENT_ID`` / ``XERO_CLIENT_SECRET`` in the server's ``env``,
  or ``XERO_CLIENT_BEARER_TOKEN``); the server asks identity.xero.com for a token and api.xero.com
  for ``/connections`` again before *every* tool call, and reads the first tenant.
- dates: Xero sends ``/Date(ms+0000)/`` (midnight UTC); xero-node makes a JavaScript ``Date`` and the
  server prints it in its own process's time zone (``Wed Jan 14 2026 19:00:00 GMT-0500 (Eastern
  Standard Time)`` for 2026-01-15 under TZ=America/New_York): ``xero_date`` takes the date after
  converting back to UTC with the printed offset, for every date field.
- errors: ``Error listing invoices: <message>`` as text, ``isError`` false. Every failed Accounting
  API call (429, 5xx, 401 ...) reads "An unexpected error occurred while communicating with Xero."
  (xero-node rejects with a JSON string the server's formatError does not recognise): the source
  fails as transient, naming the tool. A refused sign-in reads ``Failed to get Xero token with V1
  scopes: {"error":"invalid_client"}`` and is permanent.
- tools (``src/tools/list/*.tool.ts``, registered by name in ``src/tools/tool-factory.ts``):
  ``list-accounts {}``, ``list-invoices {page, contactIds?, invoiceNumbers?}``,
  ``list-credit-notes {page, contactId?}``, ``list-payments {page, invoiceNumber?, ...}``,
  ``list-manual-journals {page?, manualJournalId?, modifiedAfter?}``; the handlers
  (``src/handlers/list-xero-*.handler.ts``) ask the Xero API for ``pageSize`` 10 ordered by
  ``UpdatedDateUTC DESC``: pages of a fixed 10, and the page after the last answers none
  (``list-accounts`` is not paged). The server also registers writes (``create-invoice``,
  ``create-payment``, ``update-invoice``, ``delete-payroll-timesheet``, ...): none is declared here,
  so a config allow-listing one is refused and nothing of the kind is ever called.
- output: *several* text contents, no structured content. The first reads ``Found N invoices:``
  (``Found N accounts:``, ...), then one text content per record: "Key: Value" lines, where a field
  that is empty or zero is left out (``invoice.amountDue ? `Amount Due: ...` : null``), so a missing
  Amount Due is 0. Numbers are JavaScript's shortest text (``1150``, ``1234.5``): read as Decimal.
  ``Contact: Name (contact-id)``; a payment's invoice is an indented block under ``Invoice:``; a
  manual journal lists its lines one after another (``Line Amount`` signed: debits positive,
  credits negative) with placeholder lines such as ``No description`` (no colon).
- errors: ``Error listing invoices: <message>`` as ordinary text, ``isError`` false
  (``list-invoices.tool.ts``; messages from ``src/helpers/format-error.ts``). The client's generic
  check does not catch that form; ``decode`` does.

What is verified: every page's ``Found N`` against the records it carries (a mismatch fails the
source naming the tool); a page never holds more than 10; no record ID comes twice in a stream (a
record updated during the pull moves to page 1 and shifts the rest: one record would be missed
and another read twice, so the pull fails as transient, "records moved between pages while
reading; retry", and the step's retry reads again).

Mapping (docs/adapters.md):
- ``erp_accounts`` from list-accounts; ``account_id`` is the account Code (what journal lines
  carry), else the Xero account ID. Type: BANK asset/cash; CURRENT, FIXED, INVENTORY, NONCURRENT,
  PREPAYMENT asset (CURRENT named "Accounts Receivable" is ar); CURRLIAB, LIABILITY, PAYGLIABILITY,
  SUPERANNUATIONLIABILITY liability (CURRLIAB named "Accounts Payable" is ap), TERMLIAB
  liability/debt; EQUITY equity; REVENUE, SALES, OTHERINCOME revenue; DIRECTCOSTS expense/cogs;
  EXPENSE, OVERHEADS, DEPRECIATN, WAGESEXPENSE, SUPERANNUATIONEXPENSE expense. The server prints no
  SystemAccount, so ``options.subtypes`` ({code: subtype}) overrides. The server prints no account
  currency: accounts take ``options.currency`` (the organisation's base currency).
- ``erp_invoices`` / ``erp_bills`` from list-invoices (Type ACCREC / ACCPAY) and list-credit-notes
  (ACCRECCREDIT / ACCPAYCREDIT, ``doc_type`` credit_note, totals negative). Status DRAFT, SUBMITTED
  draft; AUTHORISED open; PAID paid; VOIDED, DELETED void. ``balance`` is Amount Due. The server
  does not print a credit note's remaining credit: an AUTHORISED credit note (possibly part
  allocated) is quarantined with that reason; PAID/VOIDED ones have none left, drafts all of it.
- ``erp_payments`` from list-payments: one line per payment, ``document_id`` the invoice's ID,
  kind payment (ACCRECPAYMENT, ACCPAYPAYMENT), refund (ARCREDITPAYMENT, APCREDITPAYMENT), unapplied
  (overpayments, prepayments: no document). DELETED payments are left out. The server prints no
  payment currency: a payment takes its invoice's currency when that invoice was read in the same
  pull, else ``options.currency``.
- ``erp_journal_lines`` (``options.journals``): the server exposes no general-ledger journal (Xero's
  Journals endpoint). ``trial_balance`` (the default when ``list-trial-balance`` is allow-listed):
  ``list-trial-balance {date, paymentsOnly?}`` (``src/tools/list/list-trial-balance.tool.ts``,
  ``src/handlers/list-xero-trial-balance.handler.ts``: ``getReportTrialBalance(tenant, date,
  paymentsOnly)``) answers four text contents, ``Trial Balance Report: <reportName>``,
  ``Date: <reportDate>`` (``31 March 2026``), ``Updated At: ...`` and ``JSON.stringify(report.rows,
  null, 2)``: xero-node ``ReportRows`` (camelCase ``rowType`` Header/Section/Row/SummaryRow,
  ``title``, ``cells [{value, attributes [{id: "account", value: AccountID}]}]``), columns Account,
  Debit, Credit (the month), YTD Debit, YTD Credit (as-at balance; fiscal year to date for
  Revenue/Expenses sections); the account cell reads ``Name (CODE)``. The adapter asks for every
  month end from the month before ``from_period`` to ``as_of`` and books ``TB-YYYY-MM`` with each
  account's YTD movement (``_vendor.month_movements``: P&L restart at ``fiscal_year_start_month``;
  the rollover of last year's profit into Retained Earnings taken out). A report that does not
  balance or disagrees with its Total row quarantines the entries it feeds; an entry that does not
  sum to zero is quarantined. ``manual``: *manual* journals only (they are not the
  whole ledger). POSTED and ARCHIVED journals only; ``debit``/``credit`` from the signed Line Amount;
  a journal with tax on a line (posted to a tax account the server does not name), a line without
  an account code, or lines that do not sum to zero is quarantined with the reason.
- ``erp_trial_balance`` (R7, the tie-out to the ledger's own report) is not read, so R7 reports "not
  available" for a Xero source: the server exposes no general ledger to compare a trial balance with.
  In ``trial_balance`` mode the journal *is* Xero's trial balance, ``list-trial-balance`` at every month
  end, so a tie-out to the same report would pass by construction and prove nothing; in ``manual`` mode
  the journal holds the manual journals only, which the whole ledger's trial balance cannot tie out to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters._vendor import (
    Balances,
    TrialBalanceLedger,
    TrialBalancePaging,
    Unmappable,
    iso_date,
    map_each,
    money,
    text,
    text_contents,
)
from connectors.adapters.base import Adapter, Mapped, Stream
from connectors.adapters.paging import Envelope, NoPaging, PageNumberPaging, Paging
from connectors.client import ConnectorError, Page

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig

PAGE_SIZE = 10  # every paged handler asks Xero for pageSize 10

ACCOUNT_TYPES: dict[str, tuple[str, str | None]] = {
    "BANK": ("asset", "cash"),
    "CURRENT": ("asset", None),
    "FIXED": ("asset", None),
    "INVENTORY": ("asset", None),
    "NONCURRENT": ("asset", None),
    "PREPAYMENT": ("asset", None),
    "CURRLIAB": ("liability", None),
    "LIABILITY": ("liability", None),
    "PAYGLIABILITY": ("liability", None),
    "SUPERANNUATIONLIABILITY": ("liability", None),
    "TERMLIAB": ("liability", "debt"),
    "EQUITY": ("equity", None),
    "REVENUE": ("revenue", None),
    "SALES": ("revenue", None),
    "OTHERINCOME": ("revenue", None),
    "DIRECTCOSTS": ("expense", "cogs"),
    "EXPENSE": ("expense", None),
    "OVERHEADS": ("expense", None),
    "DEPRECIATN": ("expense", None),
    "WAGESEXPENSE": ("expense", None),
    "SUPERANNUATIONEXPENSE": ("expense", None),
}
SYSTEM_NAMES = {("CURRENT", "accounts receivable"): "ar", ("CURRLIAB", "accounts payable"): "ap"}

STATUS = {
    "DRAFT": "draft",
    "SUBMITTED": "draft",
    "AUTHORISED": "open",
    "PAID": "paid",
    "VOIDED": "void",
    "DELETED": "void",
}
PAYMENT_KIND = {
    "ACCRECPAYMENT": "payment",
    "ACCPAYPAYMENT": "payment",
    "ARCREDITPAYMENT": "refund",
    "APCREDITPAYMENT": "refund",
    "AROVERPAYMENTPAYMENT": "payment",
    "ARPREPAYMENTPAYMENT": "payment",
    "APOVERPAYMENTPAYMENT": "payment",
    "APPREPAYMENTPAYMENT": "payment",
}
UNAPPLIED = {"AROVERPAYMENTPAYMENT", "ARPREPAYMENTPAYMENT", "APOVERPAYMENTPAYMENT", "APPREPAYMENTPAYMENT"}

_JS_DATE = re.compile(
    r"^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?P<month>[A-Z][a-z]{2}) (?P<day>\d{2}) (?P<year>\d{4}) "
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2}) GMT(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2})"
    r"(?: \([^()]*\))?$"
)
_MONTHS = {
    m: n
    for n, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)
}
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$")


def xero_date(value: Any, what: str) -> str:
    """``YYYY-MM-DD`` of a date as the server prints it.

    Xero's API sends a date as ``/Date(ms+0000)/``, the date's midnight UTC; xero-node makes it a
    JavaScript ``Date`` and the server prints it with ``${}``, i.e. ``Date.prototype.toString`` in the
    *server process's* time zone: ``Thu Jan 15 2026 00:00:00 GMT+0000 (Coordinated Universal Time)``,
    or ``Wed Jan 14 2026 19:00:00 GMT-0500 (Eastern Standard Time)`` under TZ=America/New_York. The
    moment is converted back to UTC with its printed offset before the date is taken (so the date is
    the same whatever the server's time zone, daylight saving included). ISO dates, ISO moments with
    an offset and ``/Date(...)/`` are read too."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{what}: no date ({value!r})")
    raw = value.strip()
    js = _JS_DATE.match(raw)
    if js:
        month = _MONTHS.get(js["month"])
        if month is None:
            raise Unmappable(f"{what}: {value!r}: unknown month {js['month']!r}")
        offset = timedelta(hours=int(js["oh"]), minutes=int(js["om"])) * (1 if js["sign"] == "+" else -1)
        try:
            moment = datetime(
                int(js["year"]),
                month,
                int(js["day"]),
                int(js["hour"]),
                int(js["minute"]),
                int(js["second"]),
                tzinfo=timezone(offset),
            )
        except ValueError:
            raise Unmappable(f"{what}: {value!r} is not a date") from None
        return moment.astimezone(UTC).date().isoformat()
    if _ISO_MOMENT.match(raw):
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC).date().isoformat()
        except ValueError:
            raise Unmappable(f"{what}: {value!r} is not a date") from None
    if raw == "Invalid Date" or raw.startswith(("Unknown", "undefined")):
        raise Unmappable(f"{what}: the server printed {raw!r}")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw) or raw.startswith("/Date("):
        return iso_date(raw, what)
    raise Unmappable(f"{what}: {value!r} is not a date the server prints (JavaScript Date text)")


def optional_xero_date(value: Any, what: str) -> str | None:
    return None if value in (None, "", False) else xero_date(value, what)


_ERROR = re.compile(r"^\s*Error [A-Za-z][A-Za-z ]*:")
_FOUND = re.compile(r"^Found (\d+) [A-Za-z ]+?(?: \(page \d+\))?:?\s*$")
_REF = re.compile(r"^(?P<name>.*) \((?P<id>[^()]*)\)$")


def parse_record(block: str) -> dict[str, Any]:
    """One record's "Key: Value" lines. An indented line under a ``Key:`` with no value is
    ``Key.Sub``; a line without a colon (``No description``) goes to ``_notes``."""
    record: dict[str, Any] = {}
    parent: str | None = None
    for line in block.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(": ") if ": " in line else line.partition(":")
        indented = line.startswith((" ", "\t"))
        if not sep or not key.strip():
            record.setdefault("_notes", []).append(line.strip())
            continue
        key, value = key.strip(), value.strip()
        if indented and parent:
            record[f"{parent}.{key}"] = value
        elif not value and line.rstrip().endswith(":"):
            parent = key
        else:
            parent = None
            record[key] = value
    return record


def parse_manual_journal(block: str) -> dict[str, Any]:
    """A manual journal: header fields, then ``Line Amount`` groups (keys repeat per line)."""
    journal: dict[str, Any] = {"lines": []}
    line: dict[str, str] | None = None
    for raw in block.splitlines():
        if not raw.strip():
            continue
        key, sep, value = raw.partition(": ")
        key, value = key.strip(), value.strip()
        if not sep:
            target = line if line is not None else journal
            target.setdefault("_notes", []).append(raw.strip())  # type: ignore[union-attr]
            continue
        if key == "Line Amount":
            line = {"Line Amount": value}
            journal["lines"].append(line)
        elif line is not None and key in ("Account Code", "Description", "Tax Type", "Tax Amount"):
            line[key] = value
        else:
            line = None
            journal[key] = value
    return journal


PL_SECTIONS = {"Revenue", "Income", "Other Income", "Expenses", "Expense", "Direct Costs", "Cost of Sales"}
BS_SECTIONS = {"Assets", "Liabilities", "Equity"}
_CODE = re.compile(r"^(?P<name>.*) \((?P<code>[^()]+)\)$")


def _cells(row: dict[str, Any]) -> list[dict[str, Any]]:
    cells = row.get("cells")
    if not isinstance(cells, list):
        raise ValueError(f"a {row.get('rowType')} row without cells")
    return cells


def _amount(cell: dict[str, Any] | None, what: str) -> Decimal:
    value = (cell or {}).get("value")
    if value in (None, ""):
        return Decimal(0)
    try:
        return money(str(value).replace(",", ""), what)
    except Unmappable as exc:
        raise ValueError(str(exc)) from None


def parse_trial_balance(texts: Sequence[str]) -> Balances:
    """The answer of list-trial-balance: ``Trial Balance Report: <name>``, ``Date: <reportDate>``,
    ``Updated At: ...``, then ``JSON.stringify(report.rows, null, 2)`` (xero-node ``ReportRows``:
    ``rowType`` Header | Section | Row | SummaryRow, ``title``, ``cells [{value, attributes
    [{id: "account", value: AccountID}]}]``, ``rows``). Balances come from the YTD Debit / YTD
    Credit columns: as-at balances for balance-sheet accounts, fiscal-year-to-date for P&L ones."""
    if len(texts) != 4 or not texts[0].startswith("Trial Balance Report:") or not texts[1].startswith("Date: "):
        raise ValueError(
            f"expected 'Trial Balance Report:', 'Date:', 'Updated At:' and the rows, got {[t[:40] for t in texts]!r}"
        )
    try:
        as_at = datetime.strptime(texts[1][len("Date: ") :].strip(), "%d %B %Y").date()
    except ValueError:
        raise ValueError(f"the report date {texts[1]!r} is not 'D Month YYYY'") from None
    try:
        rows = json.loads(texts[3], parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the report rows are not JSON ({exc.msg})") from None
    if not isinstance(rows, list) or not rows or rows[0].get("rowType") != "Header":
        raise ValueError("the report rows do not start with a Header row")
    columns = [str(c.get("value", "")) for c in _cells(rows[0])]
    if "YTD Debit" not in columns or "YTD Credit" not in columns:
        raise ValueError(f"the report has no YTD Debit / YTD Credit columns: {columns}")
    dr, cr = columns.index("YTD Debit"), columns.index("YTD Credit")
    balances = Balances(as_at)
    debits = credits = Decimal(0)
    totals: tuple[Decimal, Decimal] | None = None
    for section in rows[1:]:
        kind = section.get("rowType")
        if kind == "SummaryRow":
            cells = _cells(section)
            totals = (_amount(cells[dr], "Total YTD Debit"), _amount(cells[cr], "Total YTD Credit"))
            continue
        if kind != "Section":
            raise ValueError(f"unexpected top-level row {kind!r}")
        title = section.get("title") or ""
        for row in section.get("rows") or []:
            cells = _cells(row)
            if row.get("rowType") == "SummaryRow":
                if str(cells[0].get("value", "")).strip() == "Total":
                    totals = (_amount(cells[dr], "Total YTD Debit"), _amount(cells[cr], "Total YTD Credit"))
                continue
            if row.get("rowType") != "Row":
                continue
            if title not in PL_SECTIONS | BS_SECTIONS:
                raise ValueError(
                    f"section {title!r} is neither a P&L ({sorted(PL_SECTIONS)}) nor a balance-sheet "
                    f"({sorted(BS_SECTIONS)}) section"
                )
            label = str(cells[0].get("value", "")).strip()
            code = _CODE.match(label)
            ids = [a.get("value") for a in cells[0].get("attributes") or [] if a.get("id") == "account"]
            account = code["code"].strip() if code else (ids[0] if ids else None)
            if not account:
                raise ValueError(f"row {label!r} names no account code or AccountID")
            debit = _amount(cells[dr], f"{label} YTD Debit")
            credit = _amount(cells[cr], f"{label} YTD Credit")
            debits, credits = debits + debit, credits + credit
            if account in balances:
                raise ValueError(f"account {account} appears twice in the report")
            balances[account] = (debit - credit, title in PL_SECTIONS)
            balances.names[account] = code["name"].strip() if code else label
    if debits != credits:
        balances.problems.append(
            f"the trial balance at {as_at} does not balance: YTD debits {text(debits)}, YTD credits {text(credits)}"
        )
    if totals is not None and totals != (debits, credits):
        balances.problems.append(
            f"the trial balance at {as_at}: its rows sum to {text(debits)} / {text(credits)} "
            f"but its Total row says {text(totals[0])} / {text(totals[1])}"
        )
    if totals is None:
        balances.problems.append(f"the trial balance at {as_at} has no Total row")
    return balances


ID_FIELDS = {
    "list-invoices": "Invoice ID",
    "list-credit-notes": "Credit Note ID",
    "list-payments": "Payment ID",
    "list-manual-journals": "Manual Journal ID",
}
NO_ID = {"", "Unknown", "undefined", "null"}  # what the server prints for a missing ID (mapped as unmappable)


# What xero-mcp-server 0.0.17 answers for *any* failed Accounting API call: xero-node rejects with a JSON
# string (not an Error), which the server's formatError does not recognise, so a 429 rate limit, a 5xx
# and a 401 all read the same. Most such failures pass (Xero allows 60 calls a minute per organisation
# and every tool call is one): the source fails as transient and the step's retry reads again. A failed
# sign-in reads "Failed to get Xero token ...: {"error":"invalid_client"}" and stays permanent.
TRANSIENT_ERRORS = ("An unexpected error occurred while communicating with Xero", "Too many requests to Xero")


async def _fetch(
    session: SourceSession, adapter: Adapter, stream: Stream, arguments: dict[str, Any], number: int
) -> tuple[Envelope, int]:
    try:
        return await Paging.fetch(session, adapter, stream, arguments, number)
    except ConnectorError as exc:
        if exc.transient or not any(t in exc.cause for t in TRANSIENT_ERRORS):
            raise
        raise ConnectorError(
            exc.source,
            exc.tool,
            f"{exc.cause} (the server reports every failed Xero API call "
            "this way, a rate limit or an outage among them; retry)",
            transient=True,
        ) from exc


class XeroNoPaging(NoPaging):
    """One call (list-accounts), its generic API failure transient."""

    fetch = staticmethod(_fetch)


class XeroTrialBalancePaging(TrialBalancePaging):
    """One list-trial-balance call per month end, its generic API failure transient."""

    fetch = staticmethod(_fetch)


@dataclass(frozen=True)
class UpdatedOrderPaging(PageNumberPaging):
    """Xero's pages of 10 ordered by ``UpdatedDateUTC DESC``: a record updated (or created) while the
    pull reads moves to page 1, pushing every record before it one place down, so one record is
    never read and another comes twice, each page's ``Found N`` still true. The IDs seen in the
    stream catch it: a repeated ID fails the stream as transient, and the step's retry reads again."""

    fetch = staticmethod(_fetch)

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        field_name = ID_FIELDS[stream.tool]
        seen: dict[str, int] = {}
        async for page in super().pages(session, adapter, stream):
            for item in page.items:
                record_id = item.get(field_name) if isinstance(item, dict) else None
                if not isinstance(record_id, str) or record_id in NO_ID:
                    continue
                if record_id in seen:
                    raise ConnectorError(
                        session.name,
                        stream.tool,
                        f"records moved between pages while reading; retry ({field_name} {record_id} came on page "
                        f"{seen[record_id]} and again on page {page.number}: the server orders by UpdatedDateUTC "
                        "newest first, so a record updated during the pull moved to page 1 and another was not read)",
                        transient=True,
                    )
                seen[record_id] = page.number
            yield page


def _ref(value: str | None, what: str) -> tuple[str, str]:
    match = _REF.match(value or "")
    if not match or not match["id"].strip():
        raise Unmappable(f"{what}: {value!r} is not 'Name (ID)'")
    return match["id"].strip(), match["name"].strip()


class XeroAdapter(TrialBalanceLedger, Adapter):
    name = "xero"
    vendor = "Xero"
    default_tools = ("list-accounts", "list-invoices", "list-credit-notes", "list-payments", "list-trial-balance")
    options = (
        "currency",
        "subtypes",
        "journals",
        "from_period",
        "fiscal_year_start_month",
        "retained_earnings",
        "as_of",
    )
    company_options = {
        "currency": ("currency", True),
        "fiscal_year_start_month": ("fiscal_year_start_month", True),
        "from_period": ("first_period", False),
        "as_of": ("as_of", False),
    }

    def __init__(self) -> None:
        self.currency: str | None = None
        self.subtypes: dict[str, str] = {}
        self.journals: str = "none"
        self.from_period: str | None = None
        self.fiscal_year_start_month: int | None = None
        self.retained_earnings: str | None = None
        self.as_of: date | None = None
        self._doc_currency: dict[str, str] = {}

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        currency = options.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(
                "options.currency: the organisation's base currency (e.g. NZD) is required: "
                "Xero's MCP server prints no currency for accounts and payments"
            )
        self.currency = currency
        subtypes = options.get("subtypes", {})
        if not isinstance(subtypes, dict):
            raise ValueError("options.subtypes: a map of account code to subtype (cash, ar, ap, cogs, debt)")
        self.subtypes = {str(k): str(v) for k, v in subtypes.items()}
        default = "trial_balance" if "list-trial-balance" in config.allow_tools else "none"
        journals = options.get("journals", default)
        if journals not in ("none", "manual", "trial_balance"):
            raise ValueError(
                "options.journals: 'trial_balance' (month-end trial balances as monthly movements), "
                "'manual' (manual journals only) or 'none'"
            )
        self.journals = journals
        wanted = {"manual": "list-manual-journals", "trial_balance": "list-trial-balance"}.get(journals)
        if wanted and wanted not in config.allow_tools:
            raise ValueError(f"options.journals {journals!r} reads {wanted}: add it to allow_tools")
        if journals == "trial_balance":
            self.configure_trial_balance(options)

    def read_tools(self) -> frozenset[str]:
        return frozenset(self.default_tools) | {"list-manual-journals", "list-trial-balance"}

    def trial_balance_arguments(self, as_at: date) -> dict[str, Any]:
        return {"date": as_at.isoformat()}  # paymentsOnly left out: accrual basis

    def streams(self) -> list[Stream]:
        paged = UpdatedOrderPaging(page_size=PAGE_SIZE)
        streams = [
            Stream("erp_accounts", "list-accounts", paging=XeroNoPaging()),
            Stream("erp_invoices", "list-invoices", paging=paged),
            Stream("erp_invoices", "list-credit-notes", paging=paged),
            Stream("erp_bills", "list-invoices", paging=paged),
            Stream("erp_bills", "list-credit-notes", paging=paged),
            Stream("erp_payments", "list-payments", paging=paged),
        ]
        if self.journals == "manual":
            streams.append(Stream("erp_journal_lines", "list-manual-journals", paging=paged))
        elif self.journals == "trial_balance":
            streams.append(Stream("erp_journal_lines", "list-trial-balance", paging=XeroTrialBalancePaging(self)))
        return streams

    # -- reading the text ---------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        texts, size = text_contents(result, limit_bytes=limit_bytes, error=_ERROR)
        head = texts[0].strip()
        if stream is not None and stream.tool == "list-trial-balance":
            return parse_trial_balance(texts), size
        found = _FOUND.match(head)
        if not found:
            raise ValueError(f"expected 'Found N ...:' first, got {head[:120]!r}")
        blocks = texts[1:]
        if int(found.group(1)) != len(blocks):
            raise ValueError(f"the server said {head!r} but sent {len(blocks)} records: the answer is incomplete")
        journal = stream is not None and stream.tool == "list-manual-journals"
        return [parse_manual_journal(b) if journal else parse_record(b) for b in blocks], size

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        return Envelope([payload] if isinstance(payload, Balances) else payload)

    # -- mapping ------------------------------------------------------------------------------
    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        mapper = {
            ("erp_accounts", "list-accounts"): self._account,
            ("erp_invoices", "list-invoices"): lambda r: self._document(r, "ACCREC", "invoice"),
            ("erp_bills", "list-invoices"): lambda r: self._document(r, "ACCPAY", "invoice"),
            ("erp_invoices", "list-credit-notes"): lambda r: self._document(r, "ACCRECCREDIT", "credit_note"),
            ("erp_bills", "list-credit-notes"): lambda r: self._document(r, "ACCPAYCREDIT", "credit_note"),
            ("erp_payments", "list-payments"): self._payment,
            ("erp_journal_lines", "list-manual-journals"): self._journal,
            ("erp_journal_lines", "list-trial-balance"): self.trial_balance_entry,
        }[(stream.table, stream.tool)]
        return map_each(stream.table, stream.tool, items, mapper)

    def _account(self, r: dict[str, Any]) -> dict[str, Any]:
        kind = r.get("Type", "")
        if kind not in ACCOUNT_TYPES:
            raise Unmappable(
                f"account type {kind!r} is not one this adapter knows ({', '.join(sorted(ACCOUNT_TYPES))})"
            )
        code = r.get("Code")
        account_id = code if code and code != "No code" else r.get("ID")
        if not account_id or account_id == "No ID":
            raise Unmappable("an account without a code or an ID")
        type_, subtype = ACCOUNT_TYPES[kind]
        subtype = SYSTEM_NAMES.get((kind, r.get("Account", "").strip().lower()), subtype)
        subtype = self.subtypes.get(account_id, subtype)
        return {
            "account_id": account_id,
            "name": r.get("Account"),
            "type": type_,
            "subtype": subtype,
            "currency": self.currency,
            "parent_id": None,
        }

    def _document(self, r: dict[str, Any], xero_type: str, doc_type: str) -> dict[str, Any] | None:
        if r.get("Type") != xero_type:
            return None  # the other ledger's document: the other stream maps it
        credit = doc_type == "credit_note"
        doc_id = r.get("Credit Note ID" if credit else "Invoice ID")
        if not doc_id or doc_id in ("undefined", "null"):
            raise Unmappable("a document without an ID")
        party_id, party_name = _ref(r.get("Contact"), "Contact")
        status = STATUS.get(r.get("Status", ""))
        if status is None:
            raise Unmappable(f"status {r.get('Status')!r} is not one of {sorted(STATUS)}")
        total = money(r.get("Total", "0"), "Total")
        if credit:
            if r.get("Status") == "AUTHORISED":
                raise Unmappable(
                    "an AUTHORISED credit note: list-credit-notes does not print its remaining "
                    "credit, so its open balance is unknown"
                )
            balance = total if status == "draft" else Decimal(0)
            total, balance = -total, -balance
        else:
            balance = money(r.get("Amount Due", "0"), "Amount Due")
        currency = r.get("Currency") or self.currency
        self._doc_currency[doc_id] = currency
        party = "customer" if xero_type.startswith("ACCREC") else "vendor"
        key = "invoice_id" if party == "customer" else "bill_id"
        return {
            key: doc_id,
            f"{party}_id": party_id,
            f"{party}_name": party_name,
            "issue_date": xero_date(r.get("Date"), "Date"),
            "due_date": optional_xero_date(r.get("Due Date"), "Due Date"),
            "total": text(total),
            "balance": text(balance),
            "currency": currency,
            "status": status,
            "doc_type": doc_type,
            "voided_date": None,
        }

    def _payment(self, r: dict[str, Any]) -> dict[str, Any] | None:
        if r.get("Status") == "DELETED":
            return None  # a deleted payment was reversed: it settles nothing
        payment_id = r.get("Payment ID")
        if not payment_id or payment_id == "Unknown":
            raise Unmappable("a payment without an ID")
        kind_code = r.get("Payment Type", "")
        if kind_code not in PAYMENT_KIND:
            raise Unmappable(f"payment type {kind_code!r} is not one of {sorted(PAYMENT_KIND)}")
        document = None if kind_code in UNAPPLIED else r.get("Invoice.Invoice ID")
        if document in ("Unknown", ""):
            document = None
        if document is None and kind_code not in UNAPPLIED and not kind_code.endswith("CREDITPAYMENT"):
            raise Unmappable(f"a {kind_code} without the invoice it pays")
        amount = money(r.get("Amount", "0"), "Amount")
        currency = self._doc_currency.get(document or "", self.currency)
        return {
            "payment_id": payment_id,
            "line_no": "1",
            "document_id": document,
            "paid_date": xero_date(r.get("Date"), "Date"),
            "amount": text(amount),
            "currency": currency,
            "kind": PAYMENT_KIND[kind_code],
        }

    def _journal(self, r: dict[str, Any]) -> list[dict[str, Any]] | None:
        status = r.get("Status")
        if status not in ("POSTED", "ARCHIVED"):
            return None  # drafts, voided and deleted journals are not in the ledger
        entry = r.get("Manual Journal ID")
        if not entry or entry == "undefined":
            raise Unmappable("a manual journal without an ID")
        posted = xero_date(r.get("Date"), "Date")
        lines = r["lines"]
        if not lines:
            raise Unmappable("a posted manual journal without lines")
        rows, net = [], Decimal(0)
        for number, line in enumerate(lines, start=1):
            amount = money(line.get("Line Amount"), f"line {number} Line Amount")
            tax = line.get("Tax Amount")
            if tax not in (None, "", "undefined") and money(tax, f"line {number} Tax Amount") != 0:
                raise Unmappable(f"line {number} carries tax {tax} posted to a tax account the server does not name")
            account = line.get("Account Code")
            if not account:
                raise Unmappable(f"line {number} has no account code")
            net += amount
            rows.append(
                {
                    "entry_id": entry,
                    "line_no": str(number),
                    "posted_date": posted,
                    "account_id": account,
                    "debit": text(max(amount, Decimal(0))),
                    "credit": text(max(-amount, Decimal(0))),
                    "currency": self.currency,
                    "amount_currency": None,
                    "description": line.get("Description") or r.get("Description"),
                    "customer_id": None,
                    "vendor_id": None,
                    "document_id": None,
                }
            )
        if net != 0:
            raise Unmappable(f"its lines sum to {text(net)}, not zero")
        return rows
