"""The `quickbooks` adapter against an in-memory stand-in for intuit/quickbooks-online-mcp-server:
arguments under ``params`` (register-tool.ts), ``search_accounts``/``search_invoices`` paging
criteria in ``params.criteria``, ``search_bills`` beside it, answers "Found N ..." then one
JSON.stringify(entity) text per record, node-quickbooks' 1-based offset, errors as text with
isError false."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mcp.types import TextContent

from connectors.client import ConnectorError
from connectors.config import ConfigError, parse_config
from connectors.servers._common import new_server
from pipelines.ingest import ingest_source
from warehouse.db import ensure_schema
from warehouse.home import Home

ACCOUNTS = [
    {"Id": "35", "Name": "Checking", "AccountType": "Bank", "Classification": "Asset"},
    {"Id": "84", "Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable", "Classification": "Asset"},
    {"Id": "33", "Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable", "Classification": "Liability"},
    {"Id": "79", "Name": "Sales of Product Income", "AccountType": "Income", "Classification": "Revenue"},
    {"Id": "80", "Name": "Cost of Goods Sold", "AccountType": "Cost of Goods Sold", "Classification": "Expense"},
    {"Id": "7", "Name": "Advertising", "AccountType": "Expense", "Classification": "Expense", "ParentRef": {"value": "80"}},
    {"Id": "90", "Name": "Notes Payable", "AccountType": "Long Term Liability", "Classification": "Liability"},
    {"Id": "99", "Name": "Weird", "AccountType": "Nonsense"},
]
for a in ACCOUNTS:
    a.update({"CurrencyRef": {"value": "USD", "name": "United States Dollar"}, "Active": True, "SyncToken": "0"})
EXPECTED_TYPES = {"35": ("asset", "cash"), "84": ("asset", "ar"), "33": ("liability", "ap"), "79": ("revenue", None),
                  "80": ("expense", "cogs"), "7": ("expense", None), "90": ("liability", "debt")}


def _documents(party: str, n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, n + 1):
        total = Decimal(i * 73) + Decimal("0.15") * (i % 3)
        balance = Decimal(0) if i % 4 == 0 else (total if i % 2 else total - 1)
        doc = {"Id": str(i * 3 + (0 if party == "Customer" else 1)), "DocNumber": f"{1000 + i}", "TxnDate": f"2026-0{1 + i % 5}-{i:02d}",
               "DueDate": f"2026-0{2 + i % 5}-{i:02d}", f"{party}Ref": {"value": str(i % 4 + 1), "name": f"{party} {i % 4 + 1}"},
               "TotalAmt": total, "Balance": balance, "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
               "Line": [{"Amount": total, "DetailType": "SalesItemLineDetail"}], "SyncToken": "1"}
        if i == 6:
            doc.update({"TotalAmt": Decimal(0), "Balance": Decimal(0), "PrivateNote": "Voided"})
        rows.append(doc)
    return rows


INVOICES = _documents("Customer", 7)
BILLS = _documents("Vendor", 4)


class FakeQuickBooks:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.overstate = False
        self.fail = False
        self.server = new_server("QuickBooks Online MCP Server", title="QBO", instructions="fake")

        def answer(noun: str, colon: str, rows: list[dict[str, Any]], criteria: dict[str, Any]) -> list[TextContent]:
            if self.fail:
                return [TextContent(type="text", text=f"Error searching {noun}: AuthenticationFailed")]
            ordered = sorted(rows, key=lambda r: r["Id"]) if criteria.get("asc") == "Id" else rows
            start, limit = int(criteria.get("offset", 1)), int(criteria.get("limit", 1000))
            page = ordered[start - 1: start - 1 + limit]  # STARTPOSITION is 1-based
            head = f"Found {len(page) + (1 if self.overstate and page else 0)} {noun}{colon}"
            return [TextContent(type="text", text=head),
                    *(TextContent(type="text", text=json.dumps(r, default=lambda d: float(d))) for r in page)]

        @self.server.tool(structured_output=False)
        def search_accounts(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_accounts", params))
            return answer("accounts", ":", ACCOUNTS, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_invoices(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_invoices", params))
            return answer("invoices", "", INVOICES, params["criteria"])

        @self.server.tool(structured_output=False)
        def search_bills(params: dict[str, Any]) -> list[TextContent]:
            self.calls.append(("search_bills", params))
            return answer("bills", ":", BILLS, {k: v for k, v in params.items() if k != "criteria"})

        @self.server.tool(structured_output=False)
        def create_invoice(params: dict[str, Any]) -> str:
            raise AssertionError("a write tool was called")


def raw_config(allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "company": {"name": "QBO Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {"erp": {
            "adapter": "quickbooks", "server": {"command": "node", "args": ["dist/index.js"]},
            "allow_tools": allow or ["search_accounts", "search_invoices", "search_bills"],
            "client": {"call_timeout_s": 20, "retries": 0}, "options": {"page_size": 3, **options},
        }},
    }


def ingest(fake: FakeQuickBooks, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    ingest_source(parse_config(raw_config()), "erp", home=Home(tmp_path / "home"), run_id="r1", connect=connect,
                  server=fake.server)
    return con


def expected(rows: list[dict[str, Any]], party: str) -> list[tuple[Any, ...]]:
    out = []
    for r in rows:
        voided = r["TotalAmt"] == 0 and r.get("PrivateNote") == "Voided"
        status = "void" if voided else ("paid" if r["Balance"] == 0 else "open")
        out.append((r["Id"], r[f"{party}Ref"]["value"], r[f"{party}Ref"]["name"], date.fromisoformat(r["TxnDate"]),
                    date.fromisoformat(r["DueDate"]), r["TotalAmt"], r["Balance"], "USD", status, "invoice", None))
    return sorted(out)


def test_quickbooks_tables_load_exactly_paging_by_start_position(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    con = ingest(fake, tmp_path)
    assert con.execute("select account_id, name, type, subtype, currency, parent_id from erp_accounts order by 1").fetchall() == sorted(
        (a["Id"], a["Name"], *EXPECTED_TYPES[a["Id"]], "USD", a.get("ParentRef", {}).get("value"))
        for a in ACCOUNTS if a["Id"] in EXPECTED_TYPES
    )
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected(INVOICES, "Customer")
    assert con.execute("select * from erp_bills order by 1").fetchall() == expected(BILLS, "Vendor")
    # 7 invoices by 3: offsets 1, 4, 7 (the third page is short); criteria nested for invoices,
    # beside them for bills (4 by 3: 1, 4)
    assert [p["criteria"]["offset"] for t, p in fake.calls if t == "search_invoices"] == [1, 4, 7]
    assert [p["offset"] for t, p in fake.calls if t == "search_bills"] == [1, 4]
    reasons = [r for (r,) in con.execute("select reason from quarantine").fetchall()]
    assert len(reasons) == 1 and reasons[0].startswith("erp_accounts from search_accounts: Classification None / AccountType 'Nonsense'")


def test_a_count_that_disagrees_with_the_records_fails_naming_the_tool(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.overstate = True
    with pytest.raises(ConnectorError, match=r"tool 'search_accounts'.*said 'Found 4 accounts:' but sent 3 records"):
        ingest(fake, tmp_path)


def test_error_text_without_is_error_fails_the_source(tmp_path: Path) -> None:
    fake = FakeQuickBooks()
    fake.fail = True
    with pytest.raises(ConnectorError, match=r"tool 'search_accounts'.*Error searching accounts: AuthenticationFailed"):
        ingest(fake, tmp_path)


@pytest.mark.parametrize("tool", ["create_invoice", "update_bill", "delete_journal_entry"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tool: str) -> None:
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'quickbooks'"):
        parse_config(raw_config(["search_invoices", tool]))
