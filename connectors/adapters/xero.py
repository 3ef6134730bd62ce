"""`xero`: Xero's official MCP server (``@xeroapi/xero-mcp-server``).

Read from its source, github.com/XeroAPI/xero-mcp-server at commit
1b2e9b332086fa0887c8248010b4bc75083491d1 (package 0.0.16, 2026-05-05):

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
source naming the tool); a page never holds more than 10.

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
- ``erp_journal_lines``: the server exposes no general-ledger journal (Xero's Journals endpoint),
  only *manual* journals. They are read only with ``options.journals: manual`` (they are not the
  whole ledger). POSTED and ARCHIVED journals only; ``debit``/``credit`` from the signed Line Amount;
  a journal with tax on a line (posted to a tax account the server does not name), a line without
  an account code, or lines that do not sum to zero is quarantined with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters._vendor import Unmappable, iso_date, map_each, money, optional_date, text
from connectors.adapters.base import Adapter, Mapped, Stream
from connectors.adapters.paging import Envelope, NoPaging, PageNumberPaging

if TYPE_CHECKING:
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

STATUS = {"DRAFT": "draft", "SUBMITTED": "draft", "AUTHORISED": "open", "PAID": "paid",
          "VOIDED": "void", "DELETED": "void"}
PAYMENT_KIND = {"ACCRECPAYMENT": "payment", "ACCPAYPAYMENT": "payment", "ARCREDITPAYMENT": "refund",
                "APCREDITPAYMENT": "refund", "AROVERPAYMENTPAYMENT": "payment",
                "ARPREPAYMENTPAYMENT": "payment", "APOVERPAYMENTPAYMENT": "payment",
                "APPREPAYMENTPAYMENT": "payment"}
UNAPPLIED = {"AROVERPAYMENTPAYMENT", "ARPREPAYMENTPAYMENT", "APOVERPAYMENTPAYMENT", "APPREPAYMENTPAYMENT"}

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


def _ref(value: str | None, what: str) -> tuple[str, str]:
    match = _REF.match(value or "")
    if not match or not match["id"].strip():
        raise Unmappable(f"{what}: {value!r} is not 'Name (ID)'")
    return match["id"].strip(), match["name"].strip()


class XeroAdapter(Adapter):
    name = "xero"
    default_tools = ("list-accounts", "list-invoices", "list-credit-notes", "list-payments")
    options = ("currency", "subtypes", "journals")

    def __init__(self) -> None:
        self.currency: str | None = None
        self.subtypes: dict[str, str] = {}
        self.journals = False
        self._doc_currency: dict[str, str] = {}

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        options = config.options
        currency = options.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError("options.currency: the organisation's base currency (e.g. NZD) is required: "
                             "Xero's MCP server prints no currency for accounts and payments")
        self.currency = currency
        subtypes = options.get("subtypes", {})
        if not isinstance(subtypes, dict):
            raise ValueError("options.subtypes: a map of account code to subtype (cash, ar, ap, cogs, debt)")
        self.subtypes = {str(k): str(v) for k, v in subtypes.items()}
        journals = options.get("journals")
        if journals not in (None, "none", "manual"):
            raise ValueError("options.journals: 'manual' (read manual journals as journal lines) or 'none'")
        self.journals = journals == "manual"

    def read_tools(self) -> frozenset[str]:
        return frozenset(self.default_tools) | {"list-manual-journals"}

    def streams(self) -> list[Stream]:
        paged = PageNumberPaging(page_size=PAGE_SIZE)
        streams = [
            Stream("erp_accounts", "list-accounts", paging=NoPaging()),
            Stream("erp_invoices", "list-invoices", paging=paged),
            Stream("erp_invoices", "list-credit-notes", paging=paged),
            Stream("erp_bills", "list-invoices", paging=paged),
            Stream("erp_bills", "list-credit-notes", paging=paged),
            Stream("erp_payments", "list-payments", paging=paged),
        ]
        if self.journals:
            streams.append(Stream("erp_journal_lines", "list-manual-journals", paging=paged))
        return streams

    # -- reading the text ---------------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        texts = [c.text for c in result.content if getattr(c, "type", None) == "text"]
        size = sum(len(t) for t in texts)
        if size > limit_bytes:
            raise ValueError(f"response of {size} bytes exceeds the cap of {limit_bytes} bytes")
        if not texts:
            raise ValueError("the result has no text content")
        head = texts[0].strip()
        if _ERROR.match(head):
            raise ValueError(f"the server reported an error: {head[:500]}")
        found = _FOUND.match(head)
        if not found:
            raise ValueError(f"expected 'Found N ...:' first, got {head[:120]!r}")
        blocks = texts[1:]
        if int(found.group(1)) != len(blocks):
            raise ValueError(f"the server said {head!r} but sent {len(blocks)} records: the answer is incomplete")
        journal = stream is not None and stream.tool == "list-manual-journals"
        return [parse_manual_journal(b) if journal else parse_record(b) for b in blocks], size

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        return Envelope(payload)

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
        }[(stream.table, stream.tool)]
        return map_each(stream.table, stream.tool, items, mapper)

    def _account(self, r: dict[str, Any]) -> dict[str, Any]:
        kind = r.get("Type", "")
        if kind not in ACCOUNT_TYPES:
            raise Unmappable(f"account type {kind!r} is not one this adapter knows ({', '.join(sorted(ACCOUNT_TYPES))})")
        code = r.get("Code")
        account_id = code if code and code != "No code" else r.get("ID")
        if not account_id or account_id == "No ID":
            raise Unmappable("an account without a code or an ID")
        type_, subtype = ACCOUNT_TYPES[kind]
        subtype = SYSTEM_NAMES.get((kind, r.get("Account", "").strip().lower()), subtype)
        subtype = self.subtypes.get(account_id, subtype)
        return {"account_id": account_id, "name": r.get("Account"), "type": type_, "subtype": subtype,
                "currency": self.currency, "parent_id": None}

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
                raise Unmappable("an AUTHORISED credit note: list-credit-notes does not print its remaining "
                                 "credit, so its open balance is unknown")
            balance = total if status == "draft" else Decimal(0)
            total, balance = -total, -balance
        else:
            balance = money(r.get("Amount Due", "0"), "Amount Due")
        currency = r.get("Currency") or self.currency
        self._doc_currency[doc_id] = currency
        party = ("customer" if xero_type.startswith("ACCREC") else "vendor")
        key = "invoice_id" if party == "customer" else "bill_id"
        return {key: doc_id, f"{party}_id": party_id, f"{party}_name": party_name,
                "issue_date": iso_date(r.get("Date"), "Date"), "due_date": optional_date(r.get("Due Date"), "Due Date"),
                "total": text(total), "balance": text(balance), "currency": currency, "status": status,
                "doc_type": doc_type, "voided_date": None}

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
        return {"payment_id": payment_id, "line_no": "1", "document_id": document,
                "paid_date": iso_date(r.get("Date"), "Date"), "amount": text(amount), "currency": currency,
                "kind": PAYMENT_KIND[kind_code]}

    def _journal(self, r: dict[str, Any]) -> list[dict[str, Any]] | None:
        status = r.get("Status")
        if status not in ("POSTED", "ARCHIVED"):
            return None  # drafts, voided and deleted journals are not in the ledger
        entry = r.get("Manual Journal ID")
        if not entry or entry == "undefined":
            raise Unmappable("a manual journal without an ID")
        posted = iso_date(r.get("Date"), "Date")
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
            rows.append({"entry_id": entry, "line_no": str(number), "posted_date": posted, "account_id": account,
                         "debit": text(max(amount, Decimal(0))), "credit": text(max(-amount, Decimal(0))),
                         "currency": self.currency, "amount_currency": None,
                         "description": line.get("Description") or r.get("Description"),
                         "customer_id": None, "vendor_id": None, "document_id": None})
        if net != 0:
            raise Unmappable(f"its lines sum to {text(net)}, not zero")
        return rows
