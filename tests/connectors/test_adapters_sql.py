"""The generic `sql` adapter against the REAL mcp-server-sqlite, started through uvx in its own
environment (it needs mcp<2), on a SQLite file this test builds."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml

from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import ConfigError, parse_config
from pipelines.ingest import ingest_source
from tests.connectors.uvx import require_uvx
from tests.vendors import memory_warehouse
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
        memo = f'Invoice {n} for O\'Brien "quoted" \\ backslash' if n % 3 == 0 else None
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
INEXACT_DEAL = (6, "C5", "Float AG", "won", 0.1 + 0.2, "USD", "2026-01-07", 100, "bo", 1, 1)  # 0.30000000000000004

QUERIES = {
    "erp_accounts": "SELECT code AS account_id, title AS name, kind AS type, sub AS subtype, ccy AS currency, "
    "parent AS parent_id FROM gl_accounts",
    "erp_journal_lines": "SELECT je AS entry_id, seq AS line_no, dt AS posted_date, acct AS account_id, dr AS debit, "
    "cr AS credit, ccy AS currency, memo AS description, cust AS customer_id, vend AS vendor_id, doc AS document_id "
    "FROM gl_lines WHERE status = 'posted'",
}
ERP_AS_OF = "2026-03-31T18:00:00+02:00"  # a literal: the export's time
# the ERP's own trial balance at each month-end: every posted line, apart from the journal query
TRIAL_BALANCE = (
    "SELECT acct AS account_id, printf('%.2f', sum(CAST(round(dr * 100) AS INTEGER)) / 100.0) AS debit, "
    "printf('%.2f', sum(CAST(round(cr * 100) AS INTEGER)) / 100.0) AS credit "
    "FROM gl_lines WHERE status = 'posted' AND dt <= :balance_date GROUP BY acct"
)
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
        con.executemany("insert into deals values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [*DEALS, BLOB_DEAL, INEXACT_DEAL])
    return path


def raw_config(uvx: str, db_file: Path, *, erp_allow: list[str] | None = None) -> dict[str, Any]:
    server = {"command": uvx, "args": [*UVX_ARGS, "--db-path", str(db_file)]}
    client = {"call_timeout_s": 120, "retries": 1, "backoff_s": 0.01}
    return {
        "company": {"name": "Sql Co", "currency": "USD", "first_period": "2026-01"},
        "connectors": {
            "erp": {
                "adapter": "sql",
                "server": server,
                "allow_tools": erp_allow or ["read_query"],
                "client": client,
                "options": {"page_size": 7, "queries": dict(QUERIES), "as_of": ERP_AS_OF},
            },
            "crm": {
                "adapter": "sql",
                "server": server,
                "allow_tools": ["read_query"],
                "client": client,
                "options": {"queries": {"crm_opportunities": CRM_QUERY}},
            },
        },
    }


def test_erp_and_crm_through_sql_load_into_the_canonical_tables_exactly(
    uvx: str, db_file: Path, tmp_path: Path
) -> None:
    config = parse_config(raw_config(uvx, db_file))
    con, connect = memory_warehouse()

    home = Home(tmp_path / "home")
    # left by an earlier adapter: a table the sql adapter is given no query for must not stay stale
    con.execute(
        "insert into erp_invoices (invoice_id, customer_id, issue_date, total, balance, currency, status) "
        "values ('OLD-1', 'C0', date '2025-01-01', 10, 10, 'USD', 'open')"
    )
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
        (
            f"D-{i}",
            cid,
            name,
            stage,
            Decimal(repr(amount)),
            ccy,
            date.fromisoformat(close) if close else None,
            Decimal(prob),
            owner,
            bool(won),
            bool(closed),
        )
        for i, cid, name, stage, amount, ccy, close, prob, owner, won, closed in DEALS
    )
    assert con.execute("select * from crm_opportunities order by opportunity_id").fetchall() == expected_deals
    # the row with a binary value and the one whose REAL amount is not exact at cents were set aside
    # with the reason, not dropped silently and not read as 0
    quarantined = con.execute(
        "select source, tool, record, reason from quarantine order by json_extract_string(record, '$.opportunity_id')"
    ).fetchall()
    assert [(q[0], q[1]) for q in quarantined] == [("crm", "read_query")] * 2
    (_, _, blob_record, blob_reason), (_, _, real_record, real_reason) = quarantined
    assert json.loads(blob_record)["opportunity_id"] == "D-5" and json.loads(blob_record)["owner"] == "b'\\x00\\x01'"
    assert blob_reason == (
        "crm_opportunities: column owner arrived as binary (b'\\x00\\x01'): "
        "write CAST(<its expression> AS TEXT) AS owner in the query"
    )
    assert "D-6" in real_record
    assert real_reason.startswith(
        "crm_opportunities: column amount arrived as a REAL (binary floating point) "
        "0.30000000000000004, not exact at 2 decimal places"
    )
    assert "printf('%.2f', <its expression>) AS amount" in real_reason
    assert crm.pull.tables["crm_opportunities"].reported_total == len(DEALS) + 2
    assert len(crm.pull.tables["crm_opportunities"].rejected) == 2
    # the literal as_of reaches source_loads (R6's freshness check); the crm source configured none
    assert erp.pull.tables["erp_journal_lines"].as_of == ERP_AS_OF
    assert dict(
        con.execute(
            "select table_name, source_as_of from source_loads where table_name in "
            "('erp_accounts', 'erp_journal_lines', 'crm_opportunities')"
        ).fetchall()
    ) == {"erp_accounts": ERP_AS_OF, "erp_journal_lines": ERP_AS_OF, "crm_opportunities": None}

    # only the declared read tool was ever called: never write_query or create_table
    assert {t for (t,) in con.execute("select distinct tool from connector_calls").fetchall()} == {"read_query"}


BROKEN = [  # (queries, as_of, the message after "source 'erp', tool 'read_query': ")
    (
        {"erp_accounts": "SELECT * FROM no_such_table"},
        None,
        "the query for erp_accounts (options.queries.erp_accounts) failed: the server reported an error: "
        "Database error: no such table: no_such_table",
    ),
    (
        {
            "erp_accounts": QUERIES["erp_accounts"],
            "erp_journal_lines": "WITH l AS (SELECT * FROM gl_lines) SELECT je AS entry_id, seq AS line_no, debt AS debit "
            "FROM l -- the typo is debt",
        },
        None,
        "the query for erp_journal_lines (options.queries.erp_journal_lines) failed: the server reported an error: "
        "Database error: no such column: debt",
    ),
    (
        {"erp_accounts": QUERIES["erp_accounts"]},
        "SELECT max(updated) FROM gl_accounts",
        "the as_of query (options.as_of) failed: the server reported an error: Database error: no such column: updated",
    ),
    (
        {"erp_accounts": QUERIES["erp_accounts"]},
        "SELECT '2026-03-31' AS a, 'x' AS b",
        "options.as_of: the query must answer one row with one value, got [{'a': '2026-03-31', 'b': 'x'}]",
    ),
    (
        {"erp_accounts": QUERIES["erp_accounts"]},
        "SELECT max(seq) FROM gl_lines",
        "options.as_of: the query answered: 2 is not an ISO date or timestamp",
    ),
]


def test_a_failing_query_names_its_table_and_shows_the_servers_message(uvx: str, db_file: Path) -> None:
    """mcp-server-sqlite answers a failure as text with isError false: still an error, naming the
    canonical table (or options.as_of) and carrying SQLite's own message. One server for every case."""
    raw = raw_config(uvx, db_file)
    base = parse_config(raw).connectors["erp"]
    adapters = []
    for queries, as_of, _ in BROKEN:
        raw["connectors"]["erp"]["options"].update(queries=queries, as_of=as_of)
        adapters.append(adapter_for(parse_config(raw).connectors["erp"]))

    async def go() -> list[str]:
        messages = []
        async with SourceSession(base) as session:
            for adapter in adapters:
                try:
                    for stream in adapter.streams():
                        async for _ in adapter.pages(session, stream):
                            pass
                except ConnectorError as exc:
                    messages.append(str(exc))
                else:
                    messages.append("(no error)")
        return messages

    assert anyio.run(go) == [f"source 'erp', tool 'read_query': {expected}" for _, _, expected in BROKEN]


@pytest.mark.parametrize("tool", ["write_query", "create_table", "append_insight"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tmp_path: Path, tool: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw_config("uvx", tmp_path / "x.sqlite", erp_allow=["read_query", tool]))
    message = str(info.value)
    assert f"connectors.erp.allow_tools: ['{tool}'] not declared as read tools by adapter 'sql'" in message


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("DELETE FROM gl_accounts", "the server reads nothing else), got 'DELETE FROM gl_accounts'"),
        ("WITH x AS (SELECT 1) DELETE FROM gl_accounts", "got 'WITH x AS (SELECT 1) DELETE FROM gl_accounts'"),
        ("SELECT 1 AS account_id; DROP TABLE gl_accounts", "more than one statement (a ';' before the end)"),
        ("SELECT 1 AS account_id) UNION SELECT (2", "a ')' without its '('"),
        ("SELECT 'unclosed AS account_id", "an unclosed ' quote"),
    ],
)
def test_sql_queries_are_one_select_or_with_statement(tmp_path: Path, query: str, why: str) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["erp"]["options"]["queries"] = {"erp_accounts": query}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    message = str(info.value)
    assert "options.queries.erp_accounts: must be one SELECT or WITH ... SELECT statement" in message and why in message


def test_sql_options_are_checked_at_config_load(tmp_path: Path) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["erp"]["options"]["queries"] = {"erp_ledger": "SELECT 1"}
    with pytest.raises(ConfigError, match=r"\['erp_ledger'\] are not canonical tables"):
        parse_config(raw)
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    for as_of in ("yesterday", "2026-13-01", 20260331):
        raw["connectors"]["erp"]["options"]["as_of"] = as_of
        with pytest.raises(ConfigError, match=r"options.as_of: .* is not an ISO date or timestamp \(give an ISO date"):
            parse_config(raw)
    raw["connectors"]["erp"]["options"]["as_of"] = "SELECT max(dt) FROM gl_lines; DELETE FROM gl_lines"
    with pytest.raises(ConfigError, match="options.as_of: must be one SELECT or WITH ... SELECT statement"):
        parse_config(raw)
    # a literal is kept as given; a timestamp without an offset is UTC; YAML's own dates are taken too
    for given, kept in [
        ("2026-03-31", "2026-03-31"),
        ("2026-03-31 18:00:00", "2026-03-31T18:00:00+00:00"),
        (date(2026, 3, 31), "2026-03-31"),
        ("2026-03-31T18:00:00+02:00", "2026-03-31T18:00:00+02:00"),
    ]:
        raw["connectors"]["erp"]["options"]["as_of"] = given
        assert adapter_for(parse_config(raw).connectors["erp"]).as_of_literal == kept


def test_the_trial_balance_query_needs_its_date_placeholder_and_the_report_dates_follow_the_company(
    tmp_path: Path,
) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    queries = raw["connectors"]["erp"]["options"]["queries"]
    for query in (
        TRIAL_BALANCE.replace(":balance_date", "'2026-01-31'"),  # one date for every month-end
        TRIAL_BALANCE.replace(":balance_date", "':balance_date'"),  # a string, not the placeholder
        TRIAL_BALANCE.replace(":balance_date", "date('now') -- :balance_date"),
    ):  # a comment
        queries["erp_trial_balance"] = query
        with pytest.raises(ConfigError) as info:
            parse_config(raw)
        assert (
            "connectors.erp.adapter 'sql': options.queries.erp_trial_balance: the query must use the placeholder "
            ":balance_date (each month-end as a quoted ISO date, e.g. WHERE m.date <= :balance_date), else every "
            "month-end reads the same balances"
        ) in str(info.value)
    queries["erp_trial_balance"] = TRIAL_BALANCE
    adapter = adapter_for(parse_config(raw).connectors["erp"])
    assert "erp_trial_balance" in adapter.tables
    # filled from company: (first_period, as_of, timezone); options.as_of stays the source's freshness
    raw["company"].update(as_of="2026-03-15", timezone="Europe/Paris")
    connector = parse_config(raw).connectors["erp"]
    assert {k: connector.options[k] for k in ("from_period", "report_date", "timezone", "as_of")} == {
        "from_period": "2026-01",
        "report_date": date(2026, 3, 15),
        "timezone": "Europe/Paris",
        "as_of": ERP_AS_OF,
    }
    adapter = adapter_for(connector)
    assert adapter.report_dates() == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 15)]
    assert adapter.as_of_literal == ERP_AS_OF
    raw["connectors"]["erp"]["options"]["report_date"] = "15/03/2026"
    with pytest.raises(ConfigError, match=r"options.report_date: '15/03/2026' is not YYYY-MM-DD"):
        parse_config(raw)


def test_a_trial_balance_ties_to_complete_books_and_fails_r7_when_the_journal_query_drops_an_entry(
    uvx: str, db_file: Path, tmp_path: Path
) -> None:
    """The ERP's own trial balance at each month-end, read with its own query: equal to the books when
    the journal query serves every posted line (R7 passes); when the journal query filters an entry
    out, the books still balance (R1) but R7 fails from that entry's month, naming its accounts."""
    from warehouse.recon import ReconParams, build_recon

    raw = raw_config(uvx, db_file)
    raw["company"]["as_of"] = "2026-05-20"
    raw["connectors"]["erp"]["options"]["queries"] = {**QUERIES, "erp_trial_balance": TRIAL_BALANCE}
    days = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 20)]
    posted = [r for r in journal() if r[-1] == "posted"]
    expected = {}
    for day in days:
        for _, _, dt, acct, dr, cr, *_ in posted:
            if date.fromisoformat(dt) <= day:
                debit, credit = expected.get((day, acct), (Decimal(0), Decimal(0)))
                expected[(day, acct)] = (debit + Decimal(dr), credit + Decimal(cr))
    dropped = "JE003"  # dated 2026-04-04: 1100 debit, 4000 credit
    amount = next(Decimal(dr) for je, _, _, acct, dr, *_ in posted if je == dropped and acct == "1100")
    runs = {}
    for name, journal_query in [
        ("complete", QUERIES["erp_journal_lines"]),
        ("filtered", QUERIES["erp_journal_lines"] + f" AND je <> '{dropped}'"),
    ]:
        raw["connectors"]["erp"]["options"]["queries"]["erp_journal_lines"] = journal_query
        con, connect = memory_warehouse()
        erp = ingest_source(parse_config(raw), "erp", home=Home(tmp_path / name), run_id=name, connect=connect)
        got = {
            (d, a): (dr, cr)
            for d, a, dr, cr in con.execute(
                "select balance_date, account_id, debit, credit from erp_trial_balance"
            ).fetchall()
        }
        assert got == expected
        table = erp.pull.tables["erp_trial_balance"]
        assert table.reported_total == table.rows == len(expected) and table.as_of == ERP_AS_OF
        con.execute("insert into run_context values ('2026-01', '2026-05-20', 1, 'USD')")
        build_recon(con, name, ReconParams())
        runs[name] = (
            dict(con.execute("select period, status from recon_results where check_id = 'R7_erp_report'").fetchall()),
            con.execute(
                "select period, record_id, amount, reason from recon_items where check_id = 'R7_erp_report' "
                "order by all"
            ).fetchall(),
            {
                s
                for (s,) in con.execute(
                    "select status from recon_results where check_id = 'R1_trial_balance'"
                ).fetchall()
            },
        )
    assert runs["complete"] == (
        {p: "pass" for p in ("2026-01", "2026-02", "2026-03", "2026-04", "2026-05")},
        [],
        {"pass"},
    )
    statuses, items, r1 = runs["filtered"]
    assert r1 == {"pass"}  # closeboard's books balance without the entry: only the ERP's report shows it
    assert statuses == {"2026-01": "pass", "2026-02": "pass", "2026-03": "pass", "2026-04": "fail", "2026-05": "fail"}
    assert [(p, r, a) for p, r, a, _ in items] == [
        ("2026-04", "1100", -amount),
        ("2026-04", "4000", amount),
        ("2026-05", "1100", -amount),
        ("2026-05", "4000", amount),
    ]
    assert items[0][3].startswith("account 1100: closeboard balance ") and "at 2026-04-30" in items[0][3]
    # every report's query carried its own date, as a quoted literal
    sent = [
        a
        for (a,) in con.execute(
            "select arguments from connector_calls where arguments like '%GROUP BY acct%' "
            "and arguments like '%count(*)%' order by page"
        ).fetchall()
    ]
    assert [re.search(r"dt <= '([0-9-]+)'", a).group(1) for a in sent] == [d.isoformat() for d in days]


def test_a_source_feeds_only_its_own_family_of_tables(tmp_path: Path) -> None:
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["erp"]["options"]["queries"]["crm_opportunities"] = CRM_QUERY
    with pytest.raises(ConfigError, match=r"feeds \['crm_opportunities'\], which are not erp tables"):
        parse_config(raw)
    raw = raw_config("uvx", tmp_path / "x.sqlite")
    raw["connectors"]["ledger"] = raw["connectors"].pop("erp")
    with pytest.raises(ConfigError, match=r"connectors.ledger: a source is one of \['erp', 'bank', 'crm'"):
        parse_config(raw)


# -- a Tryton-shaped database: every Numeric stored as Tryton's SQLite backend stores it -----------------
# (trytond/backend/sqlite/database.py: sqlite.register_adapter(Decimal, lambda val: str(val).encode()))
TRYTON_YAML = Path(__file__).parent / "fixtures" / "sql" / "tryton.yaml"


def num(text: str | None) -> bytes | None:
    """A Numeric as Tryton writes it to SQLite: the BLOB of its decimal text."""
    return None if text is None else str(Decimal(text)).encode()


TRYTON_MOVES = [  # id, number, date, state, write_date (UTC, as Tryton writes it)
    (1, "M1", "2026-01-10", "posted", "2026-01-10 09:00:00"),
    (2, "M2", "2026-01-15", "posted", "2026-01-15 10:00:00"),
    (3, "M3", "2026-01-20", "posted", "2026-01-20 11:00:00"),
    (4, "M4", "2026-02-01", "posted", "2026-02-01 12:00:00"),
    (5, "M5", "2026-02-05", "posted", "2026-02-05 13:00:00"),
    (6, "M6", "2026-02-10", "posted", "2026-03-02 17:45:12.5"),
    (7, "M7", "2026-03-01", "draft", "2026-03-01 08:00:00"),
    (8, "M8", "2026-02-20", "posted", "2026-02-20 15:00:00"),
]
TRYTON_LINES = [  # id, move, account, debit, credit, amount_second_currency, second_currency, party, description,
    #               maturity_date, reconciliation
    (1, 1, 2, "10000.00", "0", None, None, None, "Capital", None, None),
    (2, 1, 5, "0", "10000.00", None, None, None, "Capital", None, None),
    (3, 2, 3, "1234.56", "0", None, None, 1, "INV1", "2026-02-14", None),
    (4, 2, 6, "0", "1234.56", None, None, None, "INV1 «services»", None, None),
    (5, 3, 8, "800.10", "0", None, None, None, "Rent January", None, None),
    (6, 3, 4, "0", "800.10", None, None, 2, "BILL1", "2026-02-19", 1),
    (7, 4, 2, "1000.00", "0", None, None, None, "Acme partial payment", None, None),
    (8, 4, 3, "0", "1000.00", None, None, 1, "Acme partial payment", None, None),
    (9, 5, 4, "800.10", "0", None, None, 2, "Pay BILL1", None, 1),
    (10, 5, 2, "0", "800.10", None, None, None, "Pay BILL1", None, None),
    (11, 6, 6, "100.00", "0", None, None, None, "INV2 credit note", None, None),
    (12, 6, 3, "0", "100.00", None, None, 4, "INV2 credit note", "2026-03-12", None),
    (13, 7, 8, "50.00", "0", None, None, None, "draft rent", None, None),
    (14, 7, 4, "0", "50.00", None, None, 2, "draft rent", None, None),
    (15, 8, 2, "108.70", "0", "100.00", 2, None, "EUR receipt", None, None),
    (16, 8, 6, "0", "108.70", "-100.00", 2, None, "EUR receipt", None, None),
]


@pytest.fixture
def tryton_db(tmp_path: Path) -> Path:
    path = tmp_path / "tryton.sqlite"
    script = """
    create table currency_currency (id integer primary key, code varchar);
    create table party_party (id integer primary key, code varchar, name varchar);
    create table company_employee (id integer primary key, party integer);
    create table account_account_type (id integer primary key, name varchar, statement varchar, assets boolean,
        receivable boolean, payable boolean, revenue boolean, expense boolean);
    create table account_account (id integer primary key, code varchar, name varchar, type integer, parent integer);
    create table account_move (id integer primary key, number varchar, date date, state varchar,
        write_date timestamp);
    create table account_move_line (id integer primary key, move integer, account integer, debit numeric,
        credit numeric, amount_second_currency numeric, second_currency integer, party integer,
        description varchar, maturity_date date, reconciliation integer);
    create table account_invoice (id integer primary key, type varchar, number varchar, party integer,
        invoice_date date, state varchar, currency integer, total_amount_cache numeric, move integer,
        account integer);
    create table "account_invoice-account_move_line" (id integer primary key, invoice integer, line integer);
    create table account_statement_journal (id integer primary key, name varchar, currency integer,
        account integer);
    create table account_statement (id integer primary key, journal integer, date date, end_balance numeric,
        state varchar, write_date timestamp);
    create table account_statement_line (id integer primary key, statement integer, number varchar, date date,
        amount numeric, party integer, description varchar);
    create table sale_opportunity (id integer primary key, number varchar, party integer, amount numeric,
        currency integer, state varchar, probability integer, employee integer, end_date date,
        write_date timestamp);
    insert into currency_currency values (1, 'USD'), (2, 'EUR');
    insert into party_party values (1, 'C001', 'Acme Corp'), (2, 'V001', 'Paper & Co'), (3, 'E001', 'Ana Ruiz'),
        (4, 'C002', 'Bolt GmbH');
    insert into company_employee values (1, 3);
    insert into account_account_type values (1, 'Cash', 'balance', 1, 0, 0, 0, 0),
        (2, 'Receivable', 'balance', 1, 1, 0, 0, 0), (3, 'Payable', 'balance', 0, 0, 1, 0, 0),
        (4, 'Equity', 'balance', 0, 0, 0, 0, 0), (5, 'Revenue', 'income', 0, 0, 0, 1, 0),
        (6, 'Expense', 'income', 0, 0, 0, 0, 1);
    insert into account_account values (1, '0', 'Chart', null, null), (2, '1000', 'Bank', 1, 1),
        (3, '1100', 'Accounts receivable', 2, 1), (4, '2000', 'Accounts payable', 3, 1),
        (5, '3000', 'Capital', 4, 1), (6, '4000', 'Sales', 5, 1), (7, '6000', 'Operating expenses', 6, 1),
        (8, '6100', 'Rent', 6, 7);
    insert into "account_invoice-account_move_line" values (1, 1, 8), (2, 2, 9);
    insert into account_statement_journal values (1, 'Main bank', 1, 2);
    """
    with sqlite3.connect(path) as con:
        con.executescript(script)
        con.executemany("insert into account_move values (?, ?, ?, ?, ?)", TRYTON_MOVES)
        con.executemany(
            "insert into account_move_line values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, m, a, num(dr), num(cr), num(sc), *rest) for i, m, a, dr, cr, sc, *rest in TRYTON_LINES],
        )
        con.executemany(
            "insert into account_invoice values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "out", "INV1", 1, "2026-01-15", "posted", 1, num("1234.56"), 2, 3),
                (2, "in", "BILL1", 2, "2026-01-20", "paid", 1, num("800.10"), 3, 4),
                (3, "out", "INV2", 4, "2026-02-10", "posted", 1, num("-100.00"), 6, 3),
                (4, "out", None, 1, None, "draft", 1, None, None, 3),
            ],
        )
        con.executemany(
            "insert into account_statement values (?, ?, ?, ?, ?, ?)",
            [
                (1, 1, "2026-01-31", num("10000.00"), "validated", "2026-02-01 08:00:00"),
                (2, 1, "2026-02-28", num("10308.60"), "posted", "2026-03-01 08:00:00"),
                (3, 1, "2026-03-05", num("10313.60"), "draft", "2026-03-06 10:00:00"),
            ],
        )
        con.executemany(
            "insert into account_statement_line values (?, ?, ?, ?, ?, ?, ?)",
            [
                (1, 1, "S1-1", "2026-01-10", num("10000.00"), None, "Capital"),
                (2, 2, "S2-1", "2026-02-01", num("1000.00"), 1, "Acme partial payment"),
                (3, 2, "S2-2", "2026-02-05", num("-800.10"), 2, "Paper & Co"),
                (4, 2, "S2-3", "2026-02-20", num("108.70"), None, "EUR receipt"),
                (5, 3, "S3-1", "2026-03-05", num("5.00"), None, "not validated yet"),
            ],
        )
        con.executemany(
            "insert into sale_opportunity values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "OPP1", 1, num("5000.00"), 1, "won", 100, 1, "2026-01-05", "2026-01-06 10:00:00"),
                (2, "OPP2", 4, num("12000.50"), 2, "opportunity", 40, 1, "2026-06-30", "2026-03-03 11:30:00"),
                (3, "OPP3", None, num("750.00"), 1, "lead", 10, None, None, "2026-02-01 09:00:00"),
                (4, "OPP4", 1, num("300.00"), 1, "lost", 0, 1, "2026-02-15", "2026-02-16 09:00:00"),
            ],
        )
    return path


def tryton_config(
    uvx: str, db: Path, monkeypatch: pytest.MonkeyPatch, *, as_of: str | None = None, **queries: str
) -> Any:
    """The worked example as written (the uvx on PATH and the database through ${TRYTON_DB}); ``as_of``
    pins the company's report date."""
    monkeypatch.setenv("TRYTON_DB", str(db))
    raw = yaml.safe_load(TRYTON_YAML.read_text(encoding="utf-8"))
    for connector in raw["connectors"].values():
        connector["server"]["command"] = uvx
        connector["client"] = {"call_timeout_s": 120, "retries": 1, "backoff_s": 0.01}
    raw["connectors"]["erp"]["options"]["queries"].update(queries)
    raw["company"] = {
        "name": "Tryton Co",
        "currency": "USD",
        "first_period": "2026-01",
        **({"as_of": as_of} if as_of else {}),
    }
    return parse_config(raw)


def test_tryton_binary_money_is_rejected_with_the_cast_to_write_and_loads_exactly_with_it(
    uvx: str, tryton_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con, connect = memory_warehouse()

    home = Home(tmp_path / "home")
    posted = [line for line in TRYTON_LINES if TRYTON_MOVES[line[1] - 1][3] == "posted"]

    # 1. the journal query without the CASTs: Tryton's Numeric BLOBs arrive as bytes; every row is
    #    set aside with the CAST to write, counted, never read as 0 and never dropped
    uncast = tryton_config(uvx, tryton_db, monkeypatch).connectors["erp"].options["queries"]["erp_journal_lines"]
    uncast = re.sub(r"CAST\((l\.\w+) AS TEXT\)", r"\1", uncast)
    assert "CAST" not in uncast
    config = tryton_config(uvx, tryton_db, monkeypatch, erp_journal_lines=uncast)
    erp = ingest_source(config, "erp", home=home, run_id="raw", connect=connect)
    lines = erp.pull.tables["erp_journal_lines"]
    assert (lines.rows, lines.reported_total, len(lines.rejected)) == (len(posted), len(posted), len(posted))
    assert con.execute("select count(*) from erp_journal_lines").fetchall() == [(0,)]
    assert con.execute(
        "select reported_total, rows_loaded, rows_rejected from source_loads where table_name = 'erp_journal_lines'"
    ).fetchall() == [(len(posted), 0, len(posted))]
    reasons = dict(con.execute("select record, reason from quarantine where run_id = 'raw'").fetchall())
    assert len(reasons) == len(posted)
    capital = next(r for rec, r in reasons.items() if '"entry_id": "M1"' in rec and '"line_no": 1,' in rec)
    assert capital == (
        "erp_journal_lines: column debit arrived as binary (b'10000.00'): write CAST(<its expression> AS TEXT) AS "
        "debit in the query; column credit arrived as binary (b'0'): write CAST(<its expression> AS TEXT) AS credit "
        "in the query"
    )
    fx = next(r for rec, r in reasons.items() if '"line_no": 15,' in rec)
    assert "column amount_currency arrived as binary (b'100.00')" in fx
    # ... and R6 fails as an ERROR naming the count and the first reason: never a quiet month
    from warehouse.recon import build_recon

    con.execute("insert into run_context values ('2026-01', current_date, 1, 'USD')")
    build_recon(con, "raw")
    status, detail = con.execute(
        "select status, detail from recon_results where check_id = 'R6_completeness' order by period desc limit 1"
    ).fetchall()[0]
    assert status == "fail" and f"{len(posted)} rejected by the adapter" in detail
    finding = con.execute(
        "select reason from recon_items where check_id = 'R6_completeness' "
        "and record_id = 'erp_journal_lines' and reason like '%rows rejected%'"
    ).fetchall()
    assert finding and f"{len(posted)} of {len(posted)} rows rejected" in finding[0][0] and "CAST(" in finding[0][0]
    con.execute("delete from run_context")

    # 2. the worked example as documented (WITH queries, CAST(... AS TEXT), sums in integer cents)
    config = tryton_config(uvx, tryton_db, monkeypatch)
    results = {s: ingest_source(config, s, home=home, run_id="r1", connect=connect) for s in ("erp", "bank", "crm")}
    assert con.execute("select count(*) from quarantine where run_id = 'r1'").fetchall() == [(0,)]
    assert con.execute("select * from erp_accounts order by account_id").fetchall() == [
        ("1000", "Bank", "asset", "cash", "USD", None),
        ("1100", "Accounts receivable", "asset", "ar", "USD", None),
        ("2000", "Accounts payable", "liability", "ap", "USD", None),
        ("3000", "Capital", "equity", None, "USD", None),
        ("4000", "Sales", "revenue", None, "USD", None),
        ("6000", "Operating expenses", "expense", None, "USD", None),
        ("6100", "Rent", "expense", None, "USD", "6000"),
    ]
    codes = {2: "1000", 3: "1100", 4: "2000", 5: "3000", 6: "4000", 8: "6100"}
    parties = {1: "C001", 2: "V001", 4: "C002"}
    documents = {2: "INV1", 3: "BILL1", 6: "INV2"}
    expected_lines = sorted(
        (
            TRYTON_MOVES[move - 1][1],
            i,
            date.fromisoformat(TRYTON_MOVES[move - 1][2]),
            codes[account],
            Decimal(dr),
            Decimal(cr),
            "USD",
            Decimal(sc) if sc else None,
            text,
            parties.get(party) if account == 3 else None,
            parties.get(party) if account == 4 else None,
            documents.get(move),
        )
        for i, move, account, dr, cr, sc, _, party, text, _, _ in posted
    )
    got_lines = con.execute(
        "select entry_id, line_no, posted_date, account_id, debit, credit, currency, amount_currency, description, "
        "customer_id, vendor_id, document_id from erp_journal_lines order by entry_id, line_no"
    ).fetchall()
    assert got_lines == expected_lines
    assert con.execute("select sum(debit), sum(credit) from erp_journal_lines").fetchall() == [
        (Decimal("14043.46"), Decimal("14043.46"))
    ]
    assert con.execute(
        "select invoice_id, customer_id, customer_name, issue_date, due_date, total, balance, currency, status, "
        "doc_type from erp_invoices order by invoice_id"
    ).fetchall() == [
        (
            "INV1",
            "C001",
            "Acme Corp",
            date(2026, 1, 15),
            date(2026, 2, 14),
            Decimal("1234.56"),
            Decimal("234.56"),
            "USD",
            "open",
            "invoice",
        ),
        (
            "INV2",
            "C002",
            "Bolt GmbH",
            date(2026, 2, 10),
            date(2026, 3, 12),
            Decimal("-100.00"),
            Decimal("-100.00"),
            "USD",
            "open",
            "credit_note",
        ),
    ]
    assert con.execute(
        "select bill_id, vendor_id, vendor_name, issue_date, due_date, total, balance, currency, status, doc_type "
        "from erp_bills"
    ).fetchall() == [
        (
            "BILL1",
            "V001",
            "Paper & Co",
            date(2026, 1, 20),
            date(2026, 2, 19),
            Decimal("800.10"),
            Decimal("0.00"),
            "USD",
            "paid",
            "invoice",
        )
    ]
    assert con.execute(
        "select payment_id, line_no, document_id, paid_date, amount, currency, kind from erp_payments "
        "order by payment_id"
    ).fetchall() == [
        ("ML8", 1, "INV1", date(2026, 2, 1), Decimal("1000.00"), "USD", "payment"),
        ("ML9", 1, "BILL1", date(2026, 2, 5), Decimal("800.10"), "USD", "payment"),
    ]
    assert con.execute("select * from bank_accounts").fetchall() == [("SJ1", "Main bank", "USD", "1000")]
    assert con.execute(
        "select txn_id, bank_account_id, booked_date, amount, description, reference "
        "from bank_transactions order by txn_id"
    ).fetchall() == [
        ("SL1", "SJ1", date(2026, 1, 10), Decimal("10000.00"), "Capital", "S1-1"),
        ("SL2", "SJ1", date(2026, 2, 1), Decimal("1000.00"), "Acme partial payment", "S2-1"),
        ("SL3", "SJ1", date(2026, 2, 5), Decimal("-800.10"), "Paper & Co", "S2-2"),
        ("SL4", "SJ1", date(2026, 2, 20), Decimal("108.70"), "EUR receipt", "S2-3"),
    ]
    assert con.execute("select * from bank_balances order by balance_date").fetchall() == [
        ("SJ1", date(2026, 1, 31), Decimal("10000.00")),
        ("SJ1", date(2026, 2, 28), Decimal("10308.60")),
    ]
    assert con.execute("select * from crm_opportunities order by opportunity_id").fetchall() == [
        (
            "OPP1",
            "C001",
            "Acme Corp",
            "won",
            Decimal("5000.00"),
            "USD",
            date(2026, 1, 5),
            Decimal("100.00"),
            "Ana Ruiz",
            True,
            True,
        ),
        (
            "OPP2",
            "C002",
            "Bolt GmbH",
            "opportunity",
            Decimal("12000.50"),
            "EUR",
            date(2026, 6, 30),
            Decimal("40.00"),
            "Ana Ruiz",
            False,
            False,
        ),
        ("OPP3", None, None, "lead", Decimal("750.00"), "USD", None, Decimal("10.00"), None, False, False),
        (
            "OPP4",
            "C001",
            "Acme Corp",
            "lost",
            Decimal("300.00"),
            "USD",
            date(2026, 2, 15),
            Decimal("0.00"),
            "Ana Ruiz",
            False,
            True,
        ),
    ]

    # 3. the as_of queries: each source's latest write_date, read once per pull, naive = UTC
    as_of = dict(con.execute("select table_name, source_as_of from source_loads").fetchall())
    erp_as_of, bank_as_of, crm_as_of = (
        "2026-03-02T17:45:12.500000+00:00",
        "2026-03-06T10:00:00+00:00",
        "2026-03-03T11:30:00+00:00",
    )
    assert as_of == {
        **dict.fromkeys(["erp_accounts", "erp_journal_lines", "erp_invoices", "erp_bills", "erp_payments"], erp_as_of),
        "erp_trial_balance": erp_as_of,
        "erp_fx_rates": None,  # fed by no query: emptied
        **dict.fromkeys(["bank_accounts", "bank_transactions", "bank_balances"], bank_as_of),
        "crm_opportunities": crm_as_of,
    }
    calls = con.execute(
        "select arguments from connector_calls where run_id = 'r1' and source = 'erp' and arguments like '%write_date%'"
    ).fetchall()
    assert len(calls) == 1  # the as_of query ran once for the five tables
    assert results["erp"].pull.tables["erp_journal_lines"].reported_total == len(posted)
    assert {t for (t,) in con.execute("select distinct tool from connector_calls").fetchall()} == {"read_query"}


def test_tryton_trial_balance_ties_to_the_worked_example_and_r7_names_what_a_late_extract_misses(
    uvx: str, tryton_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worked example's erp_trial_balance (Tryton's posted move lines per account up to each
    month-end) equals the books its journal query loads: R7 passes. A journal query that starts at a
    cut-over date (the opening capital entry M1 left out) keeps the books balanced (R1) and fails R7
    at every month-end, naming the bank and capital accounts."""
    from warehouse.recon import ReconParams, build_recon

    worked = tryton_config(uvx, tryton_db, monkeypatch, as_of="2026-03-31")
    journal_query = worked.connectors["erp"].options["queries"]["erp_journal_lines"]
    late = journal_query.replace("WHERE state = 'posted'", "WHERE state = 'posted' AND date >= '2026-01-15'")
    assert late != journal_query
    checked = {}
    for name, config in [
        ("worked", worked),
        ("late", tryton_config(uvx, tryton_db, monkeypatch, as_of="2026-03-31", erp_journal_lines=late)),
    ]:
        con, connect = memory_warehouse()
        ingest_source(config, "erp", home=Home(tmp_path / name), run_id=name, connect=connect)
        con.execute("insert into run_context values ('2026-01', '2026-03-31', 1, 'USD')")
        build_recon(con, name, ReconParams())
        checked[name] = (
            con.execute(
                "select balance_date::varchar, account_id, debit, credit from erp_trial_balance "
                "where balance_date = '2026-01-31' order by account_id"
            ).fetchall(),
            dict(con.execute("select period, status from recon_results where check_id = 'R7_erp_report'").fetchall()),
            con.execute(
                "select period, record_id, amount from recon_items where check_id = 'R7_erp_report' order by all"
            ).fetchall(),
            {
                s
                for (s,) in con.execute(
                    "select status from recon_results where check_id = 'R1_trial_balance'"
                ).fetchall()
            },
        )
    january = [  # M1-M3 (posted, dated in January), summed per account: Tryton's own figures
        ("2026-01-31", "1000", Decimal("10000.00"), Decimal("0.00")),
        ("2026-01-31", "1100", Decimal("1234.56"), Decimal("0.00")),
        ("2026-01-31", "2000", Decimal("0.00"), Decimal("800.10")),
        ("2026-01-31", "3000", Decimal("0.00"), Decimal("10000.00")),
        ("2026-01-31", "4000", Decimal("0.00"), Decimal("1234.56")),
        ("2026-01-31", "6100", Decimal("800.10"), Decimal("0.00")),
    ]
    months = ("2026-01", "2026-02", "2026-03")
    assert checked["worked"] == (january, dict.fromkeys(months, "pass"), [], {"pass"})
    tb, statuses, items, r1 = checked["late"]
    assert tb == january and r1 == {"pass"}
    assert statuses == dict.fromkeys(months, "fail")
    assert items == [
        (m, a, d) for m in months for a, d in (("1000", Decimal("-10000.00")), ("3000", Decimal("10000.00")))
    ]


def test_a_server_ignoring_offset_is_stopped_naming_the_source() -> None:
    """A read_query that answers the first page whatever OFFSET asks, under a count promising a
    billion rows: the second page repeats the first and the pull stops there."""
    from mcp.server.mcpserver import MCPServer

    from connectors.adapters.base import Stream
    from connectors.client import CallLog

    server = MCPServer("deaf-sqlite")

    @server.tool(structured_output=False)
    def read_query(query: str) -> str:  # mcp-server-sqlite answers a Python repr of the rows
        if query.startswith("SELECT count(*)"):
            return str([{"n": 10**9}])
        return str(
            [
                {
                    "account_id": str(n),
                    "name": f"A{n}",
                    "type": "asset",
                    "subtype": None,
                    "currency": "USD",
                    "parent_id": None,
                }
                for n in range(7)
            ]
        )

    raw = raw_config("uvx", Path("exports.sqlite"))
    connector = parse_config(raw).connectors["erp"]
    adapter = adapter_for(connector)
    adapter.configure(connector)
    log = CallLog()

    async def go() -> None:
        async with SourceSession(connector, log=log, server=server) as session:
            async for _ in adapter.pages(
                session, Stream("erp_accounts", "read_query", {"query": QUERIES["erp_accounts"]}, paged=False)
            ):
                pass

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    assert str(info.value).startswith("source 'erp', tool 'read_query': page 2 repeats the items of page 1")
    assert len(log.records) == 3  # the count and two pages, not a billion rows' worth
