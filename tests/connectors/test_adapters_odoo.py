"""The `odoo` adapter against an in-memory stand-in for mcp-server-odoo (ivnvxd/mcp-server-odoo,
commit 1b47d3c9): ``search_records(model, domain, fields, limit, offset, order)`` answering
``{records, total, limit, offset, model}`` (structured and JSON text), ``limit`` capped at the
server's max limit, Odoo ``read()`` values (many2one ``[id, name]``, ``false`` for empty, float
money), failures raised as tool errors."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from connectors.client import ConnectorError
from connectors.config import ConfigError, parse_config
from connectors.servers._common import new_server
from pipelines.ingest import ingest_source
from warehouse.db import ensure_schema
from warehouse.home import Home

USD, EUR = [1, "USD"], [2, "EUR"]
ACCOUNTS = [
    {"id": 10, "code": "101401", "name": "Bank", "account_type": "asset_cash", "currency_id": False},
    {"id": 11, "code": "121000", "name": "Account Receivable", "account_type": "asset_receivable", "currency_id": False},
    {"id": 12, "code": "211000", "name": "Account Payable", "account_type": "liability_payable", "currency_id": False},
    {"id": 13, "code": "400000", "name": "Product Sales", "account_type": "income", "currency_id": False},
    {"id": 14, "code": "500000", "name": "Cost of Goods Sold", "account_type": "expense_direct_cost", "currency_id": False},
    {"id": 15, "code": "600000", "name": "Expenses", "account_type": "expense", "currency_id": False},
    {"id": 16, "code": "101402", "name": "Bank EUR", "account_type": "asset_cash", "currency_id": EUR},
    {"id": 17, "code": "251000", "name": "Long-term loan", "account_type": "liability_non_current", "currency_id": False},
    {"id": 18, "code": "999999", "name": "Off balance", "account_type": "off_balance", "currency_id": False},
]
EXPECTED_TYPES = {10: ("asset", "cash"), 11: ("asset", "ar"), 12: ("liability", "ap"), 13: ("revenue", None),
                  14: ("expense", "cogs"), 15: ("expense", None), 16: ("asset", "cash"), 17: ("liability", "debt")}
PARTNERS = {1: "Azure Interior", 2: "Deco Addict", 3: "Wood Corner"}


def _moves() -> list[dict[str, Any]]:
    moves = []
    kinds = ["out_invoice", "in_invoice", "out_invoice", "out_refund", "in_refund", "in_invoice"]
    for n in range(1, 13):
        kind = kinds[n % len(kinds)]
        total = round(n * 111.1 + 0.25, 2)  # a float, as Odoo's XML-RPC answers
        state = "cancel" if n == 5 else "posted"
        residual = 0.0 if n % 3 == 0 or state == "cancel" else (total if n % 2 else round(total / 2, 2))
        partner = 1 + n % 3
        moves.append({
            "id": 100 + n, "name": f"{'INV' if kind.startswith('out') else 'BILL'}/2026/{n:05d}", "move_type": kind,
            "partner_id": [partner, PARTNERS[partner]], "invoice_date": f"2026-0{1 + n % 5}-{n:02d}",
            "invoice_date_due": f"2026-0{2 + n % 5}-{n:02d}" if n != 4 else False, "amount_total": total,
            "amount_residual": residual, "currency_id": EUR if n == 7 else USD, "state": state,
        })
    moves.append({**moves[0], "id": 200, "name": "/", "state": "draft"})  # a draft: not read
    moves.append({**moves[0], "id": 201, "name": "MISC/1", "move_type": "entry", "partner_id": False})
    return moves


MOVES = _moves()


def _lines() -> list[dict[str, Any]]:
    lines, next_id = [], 1000
    for m in MOVES:
        if m["move_type"] == "entry":
            pairs = [(15, 42.5, 0.0), (17, 0.0, 42.5)]
        elif m["move_type"] in ("out_invoice", "in_refund"):
            counter = 11 if m["move_type"] == "out_invoice" else 12
            pairs = [(counter, m["amount_total"], 0.0), (13 if counter == 11 else 14, 0.0, m["amount_total"])]
        else:
            counter = 11 if m["move_type"] == "out_refund" else 12
            pairs = [(13 if counter == 11 else 14, m["amount_total"], 0.0), (counter, 0.0, m["amount_total"])]
        for account, debit, credit in pairs:
            next_id += 1
            foreign = m["currency_id"] == EUR
            lines.append({
                "id": next_id, "move_id": [m["id"], m["name"]], "date": m["invoice_date"],
                "account_id": [account, f"{account} acct"], "debit": debit, "credit": credit,
                "currency_id": m["currency_id"], "amount_currency": round((debit - credit) * 1.1, 2) if foreign else debit - credit,
                "company_currency_id": USD, "name": f"line of {m['name']}", "partner_id": m["partner_id"],
                "move_type": m["move_type"], "parent_state": m["state"],
            })
    return lines


LINES = _lines()
PAYMENTS = [
    {"id": 300 + n, "name": f"PAY/{n}", "date": f"2026-05-{n + 1:02d}", "amount": 100.0 + n + 0.1,
     "currency_id": USD, "payment_type": "inbound" if n % 2 else "outbound",
     "partner_type": "customer" if n % 2 else "supplier", "state": "posted" if n != 3 else "draft",
     "reconciled_invoice_ids": [103] if n % 2 else [], "reconciled_bill_ids": [] if n % 2 else ([102] if n else [])}
    for n in range(6)
]
PAYMENTS.append({**PAYMENTS[1], "id": 399, "name": "PAY/SPLIT", "reconciled_invoice_ids": [101, 103]})
DATA = {"account.account": ACCOUNTS, "account.move": MOVES, "account.move.line": LINES, "account.payment": PAYMENTS}


class SearchResult(BaseModel):  # mcp_server_odoo/schemas.py
    records: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    model: str


def matches(record: dict[str, Any], domain: list[list[Any]]) -> bool:
    for field, op, value in domain:
        have = record.get(field)
        if not ((op == "=" and have == value) or (op == "in" and have in value) or (op == "not in" and have not in value)):
            return False
    return True


class FakeOdoo:
    def __init__(self, max_limit: int = 100) -> None:
        self.max_limit = max_limit
        self.total_bias = 0
        self.calls: list[dict[str, Any]] = []
        self.server = new_server("odoo-mcp-server", title="Odoo", instructions="fake")

        @self.server.tool()
        def search_records(model: str, domain: Any = None, fields: Any = None, limit: int | None = None,
                           offset: int = 0, order: str | None = None) -> SearchResult:
            self.calls.append({"model": model, "limit": limit, "offset": offset})
            if model not in DATA:
                raise ToolError(f"Search failed: Access denied: Model '{model}' is not enabled for MCP access")
            limit = 10 if not limit or limit <= 0 else min(limit, self.max_limit)
            rows = sorted((r for r in DATA[model] if matches(r, domain or [])), key=lambda r: r["id"])
            page = [{k: r.get(k, False) for k in fields} if fields else r for r in rows[offset: offset + limit]]
            return SearchResult(records=page, total=len(rows) + self.total_bias, limit=limit, offset=offset, model=model)

        @self.server.tool()
        def delete_record(model: str, record_id: int) -> dict[str, Any]:
            raise AssertionError("a write tool was called")


def raw_config(allow: list[str] | None = None, **options: Any) -> dict[str, Any]:
    return {
        "company": {"name": "Odoo Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {"erp": {
            "adapter": "odoo", "server": {"command": "uvx", "args": ["--with", "mcp<2", "--from", "mcp-server-odoo", "mcp-server-odoo"]},
            "allow_tools": allow or ["search_records"], "client": {"call_timeout_s": 20, "retries": 0},
            "options": {"currency": "USD", "page_size": 5, **options},
        }},
    }


def ingest(fake: FakeOdoo, tmp_path: Path, raw: dict[str, Any] | None = None) -> tuple[duckdb.DuckDBPyConnection, Any]:
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    result = ingest_source(parse_config(raw or raw_config()), "erp", home=Home(tmp_path / "home"), run_id="r1",
                           connect=connect, server=fake.server)
    return con, result


def dec(value: float) -> Decimal:
    return Decimal(repr(value))


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def expected_documents(kinds: tuple[str, str]) -> list[tuple[Any, ...]]:
    rows = []
    for m in MOVES:
        if m["move_type"] not in kinds or m["state"] not in ("posted", "cancel"):
            continue
        sign = -1 if m["move_type"].endswith("refund") else 1
        status = "void" if m["state"] == "cancel" else ("paid" if m["amount_residual"] == 0 else "open")
        rows.append((str(m["id"]), str(m["partner_id"][0]), m["partner_id"][1], _date(m["invoice_date"]),
                     _date(m["invoice_date_due"]), sign * dec(m["amount_total"]), sign * dec(m["amount_residual"]),
                     m["currency_id"][1], status, "credit_note" if sign < 0 else "invoice", None))
    return sorted(rows)


def test_odoo_tables_load_exactly_paging_by_offset(tmp_path: Path) -> None:
    fake = FakeOdoo()
    con, result = ingest(fake, tmp_path)

    assert con.execute("select account_id, name, type, subtype, currency from erp_accounts order by 1").fetchall() == sorted(
        (str(a["id"]), f"{a['code']} {a['name']}", *EXPECTED_TYPES[a["id"]], a["currency_id"][1] if a["currency_id"] else "USD")
        for a in ACCOUNTS if a["id"] in EXPECTED_TYPES
    )
    assert con.execute("select * from erp_invoices order by 1").fetchall() == expected_documents(("out_invoice", "out_refund"))
    assert con.execute("select * from erp_bills order by 1").fetchall() == expected_documents(("in_invoice", "in_refund"))

    posted = [x for x in LINES if x["parent_state"] == "posted"]
    expected_lines = sorted(
        (str(x["move_id"][0]), x["id"], _date(x["date"]), str(x["account_id"][0]), dec(x["debit"]), dec(x["credit"]),
         "USD", dec(x["amount_currency"]) if x["currency_id"] == EUR else None, x["name"],
         str(x["partner_id"][0]) if x["partner_id"] and x["move_type"].startswith("out_") else None,
         str(x["partner_id"][0]) if x["partner_id"] and x["move_type"].startswith("in_") else None,
         str(x["move_id"][0]) if x["move_type"] != "entry" else None)
        for x in posted
    )
    assert con.execute("select * from erp_journal_lines order by 1, 2").fetchall() == expected_lines

    kinds = {("customer", "inbound"): "payment", ("supplier", "outbound"): "payment"}
    expected_payments = sorted(
        (str(p["id"]), 1, str((p["reconciled_invoice_ids"] + p["reconciled_bill_ids"])[0])
         if p["reconciled_invoice_ids"] + p["reconciled_bill_ids"] else None,
         _date(p["date"]), dec(p["amount"]), "USD", kinds[(p["partner_type"], p["payment_type"])])
        for p in PAYMENTS if p["state"] != "draft" and len(p["reconciled_invoice_ids"] + p["reconciled_bill_ids"]) < 2
    )
    assert con.execute("select * from erp_payments order by 1").fetchall() == expected_payments

    # limit/offset pages of 5 until the total: every offset asked once, in order
    line_calls = [c for c in fake.calls if c["model"] == "account.move.line"]
    assert [c["offset"] for c in line_calls] == list(range(0, len(posted), 5))
    assert {c["limit"] for c in fake.calls} == {5}
    assert result.pull.tables["erp_journal_lines"].reported_total == len(posted)

    reasons = sorted(r for (r,) in con.execute("select reason from quarantine").fetchall())
    assert len(reasons) == 2
    assert reasons[0].startswith("erp_accounts from search_records account.account: account_type 'off_balance'")
    assert reasons[1].startswith("erp_payments from search_records account.payment: reconciled with 2 documents")


def test_records_that_differ_from_the_total_fail_the_source(tmp_path: Path) -> None:
    fake = FakeOdoo()
    fake.total_bias = 1
    with pytest.raises(ConnectorError, match=r"tool 'search_records'.*account.account: read 9 records but the server "
                                             r"reported a total of 10"):
        ingest(fake, tmp_path)


def test_a_server_capping_the_page_below_page_size_is_named(tmp_path: Path) -> None:
    fake = FakeOdoo(max_limit=4)
    with pytest.raises(ConnectorError, match=r"capped the page at 4 records.*set options.page_size to 4"):
        ingest(fake, tmp_path)


def test_a_tool_error_fails_the_source(tmp_path: Path) -> None:
    fake = FakeOdoo()
    saved = DATA.pop("account.payment")
    try:
        with pytest.raises(ConnectorError, match=r"tool 'search_records'.*not enabled for MCP access"):
            ingest(fake, tmp_path)
    finally:
        DATA["account.payment"] = saved


@pytest.mark.parametrize("tool", ["create_record", "update_record", "delete_record"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tool: str) -> None:
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'odoo'"):
        parse_config(raw_config(["search_records", tool]))
