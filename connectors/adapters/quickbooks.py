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
- errors: ``Error searching invoices: ...`` and ``Invalid criteria: ...`` as text, ``isError``
  false: ``decode`` reports both.
- paging: the handlers pass the criteria to node-quickbooks (mcohen01/node-quickbooks ``index.js``,
  ``module.query`` / ``criteriaToString``, commit f5baf5d976c17ccc6786c5b19d9fbceb3b5aac0d), which
  turns ``offset`` into QuickBooks' 1-based ``STARTPOSITION`` and ``limit`` into ``MAXRESULTS``
  (at most 1000). This adapter orders by ``Id`` and asks for offset 1, 1+limit, ... until a page
  comes back short; each page's ``Found N`` must equal the records it carries. The server's count
  form answers no entities through ``search_invoices``, so there is no total to check against.
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
- Not read yet: payments, bill payments, credit memos, vendor credits and journal entries (their
  tool shapes vary between the server's versions and were not verified here).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.adapters._vendor import Unmappable, iso_date, map_each, money, optional_date, text
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
TOOLS = {"search_accounts": "criteria", "search_invoices": "criteria", "search_bills": "params"}
_ERROR = re.compile(r"^\s*(?:Error [A-Za-z][A-Za-z ]*|Invalid criteria):")
_FOUND = re.compile(r"^Found (\d+) [A-Za-z ]+?:?\s*$")


class QuickBooksPaging(Paging):
    """STARTPOSITION/MAXRESULTS through node-quickbooks' ``offset`` (1-based) and ``limit``."""

    kind = "offset"

    def __init__(self, limit: int, where: str) -> None:
        self.limit, self.where = limit, where

    async def pages(self, session: SourceSession, adapter: Adapter, stream: Stream) -> AsyncIterator[Page]:
        start = 1
        for number in range(1, session.config.client.max_pages + 1):
            window = {"asc": "Id", "limit": self.limit, "offset": start}
            params = {"criteria": window} if self.where == "criteria" else {"criteria": [], **window}
            env, nbytes = await self.fetch(session, adapter, stream, {"params": params}, number)
            if len(env.items) > self.limit:
                raise ConnectorError(session.name, stream.tool, f"page {number} holds {len(env.items)} records, more than {self.limit}")
            yield Page(env.items, None, None, None, number, nbytes)
            if len(env.items) < self.limit:
                return
            start += len(env.items)
        raise ConnectorError(session.name, stream.tool, f"more than {session.config.client.max_pages} pages")


def _ref(value: Any) -> tuple[str, str | None] | None:
    if isinstance(value, dict) and value.get("value") not in (None, ""):
        return str(value["value"]), value.get("name")
    return None


class QuickBooksAdapter(Adapter):
    name = "quickbooks"
    default_tools = tuple(TOOLS)
    options = ("page_size",)

    def __init__(self) -> None:
        self.page_size = 1000

    def configure(self, config: ConnectorConfig) -> None:
        super().configure(config)
        self.page_size = int(config.options.get("page_size", 1000))
        if not 1 <= self.page_size <= 1000:
            raise ValueError("options.page_size: 1 to 1000 (QuickBooks' MAXRESULTS)")

    def streams(self) -> list[Stream]:
        tables = {"search_accounts": "erp_accounts", "search_invoices": "erp_invoices", "search_bills": "erp_bills"}
        return [Stream(tables[tool], tool, paging=QuickBooksPaging(self.page_size, where)) for tool, where in TOOLS.items()]

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
            raise ValueError(f"expected 'Found N ...' first, got {head[:120]!r}")
        if int(found.group(1)) != len(texts) - 1:
            raise ValueError(f"the server said {head!r} but sent {len(texts) - 1} records: the answer is incomplete")
        items = []
        for number, block in enumerate(texts[1:], start=1):
            try:
                items.append(json.loads(block, parse_float=Decimal))
            except json.JSONDecodeError as exc:
                raise ValueError(f"record {number} is not JSON ({exc.msg}): {block[:120]!r}") from None
        return items, size

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        return Envelope(payload)

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
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
