"""The generic `sql` adapter against the REAL mcp-server-sqlite, started through uvx in its own
environment (it needs mcp<2), on a SQLite file this test builds."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import duckdb
import pytest

from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import ConfigError, parse_config
from connectors.pull import pull_source
from pipelines.ingest import ingest_source
from warehouse.db import ensure_schema
from tests.connectors.uvx import require_uvx
from warehouse.home import Home

UVX_ARGS = ["--with", "mcp<2", "--from", "mcp-server-sqlite", "mcp-server-sqlite"]

ACCOUNTS = [  # code, title, kind, sub, ccy, parent
    ("1000", "Operating bank", "asset", "cash", "USD", None),
    ("1100", "Receivables", "asset", "ar", "USD", None),
    ("2000", "Payables", "liability", "ap", "USD", None),
    ("3000", "Owner's equity", "equity", None, "USD", None),
    ("4000", "Sales — «services»", "revenue", None, "USD", None),
    ("5000", "Rent", "expense", None, "USD", "5"),
]


def journal() -> list[tuple[Any, ...]]:
    """je, seq, dt, acct, dr, cr, ccy, memo, cust, vend, doc, status: 13 balanced entries + a draft."""
    rows = []
    for n in range(1, 14):
        amount = f"{n * 1037 % 9000 + 0.5 * (n % 2):.2f}"
        day = date(2026, 1 + n % 5, 1 + n).isoformat()
        memo = f"Invoice {n} for O'Brien \"quoted\" \\ backslash" if n % 3 == 0 else None
        rows.append((f"JE{n:03d}", 1, day, "1100", amount, "0.00", "USD", memo, f"C{n % 4}", None, f"INV{n}", "posted"))
        rows.append((f"JE{n:03d}", 2, day, "4000", "0.00", amount, "USD", memo, f"C{n % 4}", None, f"INV{n}", "posted"))
    rows.append(("JE999", 1, "2026-03-01", "5000", "10.00", "0.00", "USD", "draft", None, "V1", None, "draft"))
    return rows


DEALS = [  # id, company_id, company, stage, amount (REAL), ccy, close, prob, owner, won, closed
    (1, "C0", "Acme", "won", 1234.5, "USD", "2026-02-10", 100, "ana", 1, 1),
    (2, "C1", "Bolt GmbH", "proposal", 99.99, "EUR", "2026-07-01", 40, "bo", 0, 0),
    (3, None, "Cyan Ltd", "lost", 250000.0, "USD", None, 0, None, 0, 1),
    (4, "C3", "Dune", "negotiation", 12.0, "USD", "2026-08-15", 75, "ana", 0, 0),
]
BLOB_DEAL = (5, "C4", "Blob Inc", "won", 10.0, "USD", "2026-01-05", 100, b"\x00\x01", 1, 1)

QUERIES = {
    "erp_accounts": "SELECT code AS account_id, title AS name, kind AS type, sub AS subtype, ccy AS currency, "
    "parent AS parent_id FROM gl_accounts",
    "erp_journal_lines": "SELECT je AS entry_id, seq AS line_no, dt AS posted_date, acct AS account_id, dr AS debit, "
    "cr AS credit, ccy AS currency, memo AS description, cust AS customer_id, vend AS vendor_id, doc AS document_id "
    "FROM gl_lines WHERE status = 'posted'",
}
CRM_QUERY = (
    "SELECT 'D-' || id AS opportunity_id, company_id AS customer_id, company AS customer_name, stage, amount, "
    "ccy AS currency, close AS close_date, prob AS probability, owner, "
    "CASE won WHEN 1 THEN 'true' ELSE 'false' END AS is_won, "
    "CASE closed WHEN 1 THEN 'true' ELSE 'false' END AS is_closed FROM deals"
)


@pytest.fixture(scope="module")
def uvx() -> str:
    return require_uvx(UVX_ARGS, "mcp-server-sqlite")


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "exports.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("create table gl_accounts (code text, title text, kind text, sub text, ccy text, parent text)")
        con.executemany("insert into gl_accounts values (?, ?, ?, ?, ?, ?)", ACCOUNTS)
        con.execute(
            "create table gl_lines (je text, seq integer, dt text, acct text, dr text, cr text, ccy text, memo text, "
            "cust text, vend text, doc text, status text)"
        )
        con.executemany("insert into gl_lines values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", journal())
        con.execute(
            "create table deals (id integer, company_id text, company text, stage text, amount real, ccy text, "
            "close text, prob integer, owner blob, won integer, closed integer)"
        )
        con.executemany("insert into deals values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*DEALS, BLOB_DEAL])
    return path


def raw_config(uvx: str, db_file: Path, *, erp_allow: list[str] | None = None) -> dict[str, Any]:
    server = {"command": uvx, "args": [*UVX_ARGS, "--db-path", str(db_file)]}
    client = {"call_timeout_s": 120, "retries": 1, "backoff_s": 0.01}
    return {
        "company": {"name": "Sql Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "erp": {"adapter": "sql", "server": server, "allow_tools": erp_allow or ["read_query"],
                    "client": client, "options": {"page_size": 7, "queries": QUERIES}},
            "crm": {"adapter": "sql", "server": server, "allow_tools": ["read_query"], "client": client,
                    "options": {"queries": {"crm_opportunities": CRM_QUERY}}},
        },
    }


def test_erp_and_crm_through_sql_load_into_the_canonical_tables_exactly(
    uvx: str, db_file: Path, tmp_path: Path
) -> None:
    config = parse_config(raw_config(uvx, db_file))
    con = duckdb.connect()
    ensure_schema(con)

    @contextmanager
    def connect():  # noqa: ANN202
        yield con

    home = Home(tmp_path / "home")
    # left by an earlier adapter: a table the sql adapter is given no query for must not stay stale
    con.execute("insert into erp_invoices (invoice_id, customer_id, issue_date, total, balance, currency, status) "
                "values ('OLD-1', 'C0', date '2025-01-01', 10, 10, 'USD', 'open')")
    erp = ingest_source(config, "erp", home=home, run_id="r1", connect=connect)
    for table in ("erp_invoices", "erp_bills", "erp_payments", "erp_fx_rates"):
        assert con.execute(f"select count(*) from {table}").fetchall() == [(0,)]
        assert erp.pull.tables[table].tool == "(none: adapter 'sql' does not read it)"
    crm = ingest_source(config, "crm", home=home, run_id="r1", connect=connect)

    assert con.execute("select * from erp_accounts order by account_id").fetchall() == sorted(ACCOUNTS)
    posted = [r for r in journal() if r[-1] == "posted"]
    expected_lines = sorted(
        (je, seq, date.fromisoformat(dt), acct, Decimal(dr), Decimal(cr), ccy, None, memo, cust, vend, doc)
        for je, seq, dt, acct, dr, cr, ccy, memo, cust, vend, doc, _ in posted
    )
    got_lines = con.execute(
        "select entry_id, line_no, posted_date, account_id, debit, credit, currency, amount_currency, description, "
        "customer_id, vendor_id, document_id from erp_journal_lines order by entry_id, line_no"
    ).fetchall()
    assert got_lines == expected_lines
    assert erp.pull.tables["erp_journal_lines"].pages == -(-len(posted) // 7)  # paged by the adapter
    assert erp.pull.tables["erp_journal_lines"].reported_total == len(posted)

    expected_deals = sorted(
        (f"D-{i}", cid, name, stage, Decimal(repr(amount)), ccy, date.fromisoformat(close) if close else None,
         Decimal(prob), owner, bool(won), bool(closed))
        for i, cid, name, stage, amount, ccy, close, prob, owner, won, closed in DEALS
    )
    assert con.execute("select * from crm_opportunities order by opportunity_id").fetchall() == expected_deals
    # the row with a binary value was set aside with the reason, not dropped silently
    quarantined = con.execute("select source, tool, record, reason from quarantine").fetchall()
    assert len(quarantined) == 1
    source, tool, record, reason = quarantined[0]
    assert (source, tool) == ("crm", "read_query") and "D-5" in record and "binary value in owner" in reason
    assert crm.pull.tables["crm_opportunities"].reported_total == len(DEALS) + 1

    # only the declared read tool was ever called: never write_query or create_table
    assert {t for (t,) in con.execute("select distinct tool from connector_calls").fetchall()} == {"read_query"}


def test_error_text_with_is_error_false_is_an_error(uvx: str, db_file: Path) -> None:
    raw = raw_config(uvx, db_file)
    raw["connectors"]["erp"]["options"]["queries"] = {"erp_accounts": "SELECT * FROM no_such_table"}
    config = parse_config(raw)
    connector = config.connectors["erp"]

    async def go() -> None:
        async with SourceSession(connector) as session:
            await pull_source(session, adapter_for(connector), lambda table, batch: None)

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    message = str(info.value)
    assert "source 'erp', tool 'read_query'" in message and "Database error: no such table: no_such_table" in message


@pytest.mark.parametrize("tool", ["write_query", "create_table", "append_insight"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tmp_path: Path, tool: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw_config("uvx", tmp_path / "x.sqlite", erp_allow=["read_query", tool]))
    message = str(info.value)
    assert f"connectors.erp.allow_tools: ['{tool}'] not declared as read tools by adapter 'sql'" in message


def test_sql_options_are_checked_at_config_load(tmp_path: Path) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["erp"]["options"]["queries"] = {"erp_ledger": "SELECT 1"}
    with pytest.raises(ConfigError, match=r"\['erp_ledger'\] are not canonical tables"):
        parse_config(raw)
    raw["connectors"]["erp"]["options"]["queries"] = {"erp_accounts": "DELETE FROM gl_accounts"}
    with pytest.raises(ConfigError, match="must be one SELECT statement"):
        parse_config(raw)


def test_a_source_feeds_only_its_own_family_of_tables(tmp_path: Path) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["erp"]["options"]["queries"]["crm_opportunities"] = CRM_QUERY
    with pytest.raises(ConfigError, match=r"feeds \['crm_opportunities'\], which are not erp tables"):
        parse_config(raw)
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["ledger"] = raw["connectors"].pop("erp")
    with pytest.raises(ConfigError, match=r"connectors.ledger: a source is one of \['erp', 'bank', 'crm'\]"):
        parse_config(raw)
