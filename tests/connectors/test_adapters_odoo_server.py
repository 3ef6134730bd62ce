"""The `odoo` adapter against the REAL, unmodified mcp-server-odoo from PyPI, run through uvx in its
own environment (it needs mcp<2), with Odoo replaced by a local stand-in that answers Odoo 17's
external API over HTTP (``tests/vendors/odoo/standin.py``: XML-RPC ``/xmlrpc/2/common`` and
``/xmlrpc/2/object`` ``execute_kw``; with ``module=True`` also the Odoo MCP module's ``/mcp/...``
routes). The books are small and hand-checked (``tests/vendors/odoo/books.py``): posted, draft and
cancelled moves, invoices and bills with residuals, a credit note, payments (one unapplied, one
settling two documents), a EUR invoice.

R7: with ``aggregate_records`` allow-listed the adapter reads the ledger's own balances per account at
every month-end (Odoo 17 ``read_group`` through the server); on complete books every account ties out,
and when the user's searches do not return a journal's items (``books.database(journals_outside_scope=)``)
closeboard's books stay balanced and R7 fails naming the accounts. The server runs under TZ=UTC and
TZ=America/New_York there: Odoo's dates are plain dates and the figures must not move."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connectors.adapters import adapter_for
from connectors.client import ConnectorError
from connectors.config import ConfigError, parse_config
from pipelines.ingest import Ingested, ingest_source
from tests.connectors.uvx import require_uvx
from tests.vendors import memory_warehouse
from tests.vendors.odoo import books
from tests.vendors.odoo.standin import AccessError, Database, OdooStandin
from warehouse.home import Home
from warehouse.models import build_marts
from warehouse.recon import ReconParams, build_recon

UVX_ARGS = ["--from", "mcp-server-odoo==0.8.0", "mcp-server-odoo"]
PAGE = 5
D = Decimal
ALLOW = ["search_records", "aggregate_records"]  # the adapter's default_tools: R7 on
AS_OF = "2026-02-20"
JAN, FEB = date(2026, 1, 31), date(2026, 2, 20)
# the ledger's own trial balance, hand-checked from tests/vendors/odoo/books.py: account -> (Σdebit, Σcredit)
TB_JAN = {
    "1": ("11950.00", "500.25"),
    "9": ("0.00", "10000.00"),
    "2": ("3450.00", "2180.00"),
    "3": ("500.25", "1700.35"),
    "4": ("30.00", "450.00"),
    "5": ("200.00", "3000.00"),
    "7": ("1200.10", "0.00"),
    "6": ("500.25", "0.00"),
}
TB_FEB = {
    **TB_JAN,
    "1": ("12555.00", "500.25"),
    "2": ("4765.00", "2785.00"),
    "4": ("30.00", "480.00"),
    "5": ("200.00", "4285.00"),
}


def server_env(url: str, *, module: bool, **extra: str) -> dict[str, str]:
    if module:  # standard mode: the Odoo MCP module checks the API key and which models are enabled
        return {"ODOO_URL": url, "ODOO_DB": books.DB, "ODOO_API_KEY": books.API_KEY, **extra}
    return {
        "ODOO_URL": url,
        "ODOO_DB": books.DB,
        "ODOO_USER": books.LOGIN,
        "ODOO_API_KEY": books.API_KEY,
        "ODOO_YOLO": "read",
        **extra,
    }


def raw_config(
    uvx: str, env: dict[str, str], *, allow: list[str] | None = None, page_size: int = PAGE
) -> dict[str, Any]:
    return {
        "company": {"name": "Odoo Co", "currency": "USD", "first_period": "2026-01", "as_of": AS_OF},
        "connectors": {
            "erp": {
                "adapter": "odoo",
                "server": {"command": uvx, "args": UVX_ARGS, "env": env},
                "allow_tools": allow or ALLOW,
                "client": {"call_timeout_s": 60, "retries": 0},
                "options": {"currency": "USD", "page_size": page_size},
            }
        },
    }


@pytest.fixture(scope="module")
def uvx() -> str:
    return require_uvx(UVX_ARGS, "mcp-server-odoo")


def ingest(
    uvx: str, db: Database, root: Path, *, module: bool = False, allow: list[str] | None = None, **extra: str
) -> tuple[duckdb.DuckDBPyConnection, Ingested]:
    con, connect = memory_warehouse()
    with OdooStandin(db, module=module) as odoo:
        config = parse_config(raw_config(uvx, server_env(odoo.url, module=module, **extra), allow=allow))
        result = ingest_source(config, "erp", home=Home(root / "home"), run_id="r1", connect=connect)
    return con, result


def recon(con: duckdb.DuckDBPyConnection) -> None:
    """Marts and reconciliation over what was pulled, the report date being the config's as_of."""
    con.execute(f"insert into run_context values ('2026-01', date '{AS_OF}', 1, 'USD')")
    build_marts(con)
    build_recon(con, "run-1", ReconParams(sources=("erp",)))


def trial_balance(con: duckdb.DuckDBPyConnection) -> dict[date, dict[str, tuple[str, str]]]:
    out: dict[date, dict[str, tuple[str, str]]] = {}
    for day, account, debit, credit in con.execute(
        "select balance_date, account_id, debit, credit from erp_trial_balance"
    ).fetchall():
        out.setdefault(day, {})[account] = (str(debit), str(credit))
    return out


@dataclass
class Loaded:
    con: duckdb.DuckDBPyConnection
    erp: Ingested
    db: Database


@pytest.fixture(scope="module")
def loaded(uvx: str, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    db = books.database()
    con, erp = ingest(uvx, db, tmp_path_factory.mktemp("odoo"))
    recon(con)
    return Loaded(con, erp, db)


def test_accounts_map_by_account_type_and_off_balance_is_quarantined(loaded: Loaded) -> None:
    got = loaded.con.execute(
        "select account_id, name, type, subtype, currency, parent_id from erp_accounts order by 1::int"
    ).fetchall()
    assert got == [
        ("1", "101401 Bank", "asset", "cash", "USD", None),
        ("2", "121000 Account Receivable", "asset", "ar", "USD", None),
        ("3", "211000 Account Payable", "liability", "ap", "USD", None),
        ("4", "251000 Tax Received", "liability", None, "USD", None),
        ("5", "400000 Product Sales", "revenue", None, "USD", None),
        ("6", "600000 Expenses", "expense", None, "USD", None),
        ("7", "500000 Cost of Goods Sold", "expense", "cogs", "USD", None),
        ("8", "101402 Bank EUR", "asset", "cash", "EUR", None),
        ("9", "110000 Capital", "equity", None, "USD", None),
    ]
    reasons = [
        r for (r,) in loaded.con.execute("select reason from quarantine where reason like 'erp_accounts%'").fetchall()
    ]
    assert reasons == [
        "erp_accounts from search_records account.account: account_type 'off_balance' is not a "
        "balance sheet or P&L type this adapter maps"
    ]


def test_only_posted_journal_items_load_and_the_rest_are_dropped_and_counted(loaded: Loaded) -> None:
    con, db = loaded.con, loaded.db
    lines = db.models["account.move.line"].rows.values()
    dropped = sorted((r["move_id"], r["parent_state"]) for r in lines if r["parent_state"] != "posted")
    assert dropped == [
        (7, "draft"),
        (7, "draft"),
        (8, "cancel"),
        (8, "cancel"),
        (8, "cancel"),
        (12, "draft"),
        (12, "draft"),
    ]
    posted = books.posted_lines(db)
    table = loaded.erp.pull.tables["erp_journal_lines"]
    assert table.reported_total == table.rows == len(posted) == len(lines) - len(dropped) == 30
    assert table.rejected == []
    got = {r[1] for r in con.execute("select entry_id, line_no from erp_journal_lines").fetchall()}
    assert got == {r["id"] for r in posted}
    assert con.execute("select count(*) from erp_journal_lines where entry_id in ('7', '8', '12')").fetchone()[0] == 0
    unbalanced = con.execute(
        "select entry_id from erp_journal_lines group by 1 having sum(debit) <> sum(credit)"
    ).fetchall()
    assert unbalanced == []
    # the EUR invoice: company-currency debit/credit, the EUR side in amount_currency
    assert con.execute(
        "select account_id, debit, credit, currency, amount_currency, customer_id, document_id "
        "from erp_journal_lines where entry_id = '13' order by line_no"
    ).fetchall() == [
        ("5", D("0.00"), D("1085.00"), "USD", D("-1000.00"), "7", "13"),
        ("2", D("1085.00"), D("0.00"), "USD", D("1000.00"), "7", "13"),
    ]
    # a payment's entry: the receivable line names the customer (account_type), no document
    assert con.execute(
        "select account_id, debit, credit, customer_id, vendor_id, document_id, posted_date "
        "from erp_journal_lines where entry_id = '9' order by line_no"
    ).fetchall() == [
        ("1", D("1150.00"), D("0.00"), None, None, None, date(2026, 1, 25)),
        ("2", D("0.00"), D("1150.00"), "7", None, None, date(2026, 1, 25)),
    ]
    # a bill's payable line without a label: vendor and document, description null
    assert con.execute(
        "select description, vendor_id, customer_id, document_id from erp_journal_lines where line_no = 1013"
    ).fetchone() == (None, "9", None, "5")


def test_invoices_and_bills_are_the_posted_and_cancelled_documents(loaded: Loaded) -> None:
    con = loaded.con
    d = date.fromisoformat
    assert con.execute("select * from erp_invoices order by invoice_id::int").fetchall() == [
        (
            "2",
            "7",
            "Azure Interior",
            d("2026-01-10"),
            d("2026-02-09"),
            D("1150.00"),
            D("0.00"),
            "USD",
            "paid",
            "invoice",
            None,
        ),
        (
            "3",
            "8",
            "Deco Addict",
            d("2026-01-20"),
            d("2026-02-19"),
            D("2300.00"),
            D("1200.00"),
            "USD",
            "open",
            "invoice",
            None,
        ),
        (
            "4",
            "8",
            "Deco Addict",
            d("2026-01-25"),
            d("2026-01-25"),
            D("-230.00"),
            D("-230.00"),
            "USD",
            "open",
            "credit_note",
            None,
        ),
        (
            "8",
            "7",
            "Azure Interior",
            d("2026-01-22"),
            d("2026-02-21"),
            D("345.00"),
            D("0.00"),
            "USD",
            "void",
            "invoice",
            None,
        ),
        (
            "13",
            "7",
            "Azure Interior",
            d("2026-02-05"),
            d("2026-03-07"),
            D("1000.00"),
            D("1000.00"),
            "EUR",
            "open",
            "invoice",
            None,
        ),
        (
            "16",
            "8",
            "Deco Addict",
            d("2026-02-10"),
            d("2026-03-12"),
            D("230.00"),
            D("0.00"),
            "USD",
            "paid",
            "invoice",
            None,
        ),
    ]
    assert con.execute("select * from erp_bills order by bill_id::int").fetchall() == [
        (
            "5",
            "9",
            "Wood Corner",
            d("2026-01-15"),
            d("2026-02-14"),
            D("500.25"),
            D("0.00"),
            "USD",
            "paid",
            "invoice",
            None,
        ),
        (
            "6",
            "9",
            "Wood Corner",
            d("2026-01-28"),
            d("2026-02-27"),
            D("1200.10"),
            D("1200.10"),
            "USD",
            "open",
            "invoice",
            None,
        ),
    ]


def test_payments_name_their_document_and_a_split_payment_is_quarantined(loaded: Loaded) -> None:
    con = loaded.con
    d = date.fromisoformat
    assert con.execute("select * from erp_payments order by payment_id::int").fetchall() == [
        ("1", 1, "2", d("2026-01-25"), D("1150.00"), "USD", "payment"),
        ("2", 1, "3", d("2026-01-31"), D("800.00"), "USD", "payment"),
        ("3", 1, "5", d("2026-01-29"), D("500.25"), "USD", "payment"),
        ("5", 1, None, d("2026-02-15"), D("75.00"), "USD", "payment"),  # unapplied cash; 4 is a draft
    ]
    reasons = [r for (r,) in con.execute("select reason from quarantine where reason like 'erp_payments%'").fetchall()]
    assert len(reasons) == 1 and reasons[0].startswith(
        "erp_payments from search_records account.payment: reconciled with 2 documents"
    )


def test_revenue_ar_ap_and_cash_equal_the_hand_checked_books(loaded: Loaded) -> None:
    kpis = {
        (p, k): v
        for p, k, v in loaded.con.execute(
            "select period, kpi, value from mart_kpis where kpi in ('revenue', 'cogs', 'net_income', 'ar', 'ap', 'cash')"
        ).fetchall()
    }
    assert {k: kpis[("2026-01", k)] for k in ("revenue", "cogs", "net_income", "ar", "ap", "cash")} == {
        "revenue": D("2800.00"),
        "cogs": D("1200.10"),
        "net_income": D("1099.65"),
        "ar": D("1270.00"),
        "ap": D("1200.10"),
        "cash": D("11449.75"),
    }
    assert {k: kpis[("2026-02", k)] for k in ("revenue", "ar", "ap", "cash")} == {
        "revenue": D("1285.00"),
        "ar": D("1980.00"),
        "ap": D("1200.10"),
        "cash": D("12054.75"),
    }
    # the open USD documents today agree with the receivable lines of USD documents and payments
    open_usd = loaded.con.execute(
        "select sum(balance) from erp_invoices where currency = 'USD' and status = 'open'"
    ).fetchone()[0]
    assert open_usd == D("1200.00") - D("230.00")


def test_pages_go_by_id_through_search_records_and_nothing_else_is_called(loaded: Loaded) -> None:
    con, db = loaded.con, loaded.db
    assert {t for (t,) in con.execute("select distinct tool from connector_calls").fetchall()} == set(ALLOW)
    searches = [
        (args, kw) for path, model, method, args, kw in db.calls if model == "account.move.line" and method == "search"
    ]
    lasts = [args[0][-1] for args, _ in searches]
    posted = sorted(r["id"] for r in books.posted_lines(db))
    assert lasts == [["id", ">", 0]] + [["id", ">", posted[i]] for i in range(PAGE - 1, len(posted) - 1, PAGE)]
    assert all(kw == {"limit": PAGE, "offset": 0, "order": "id asc"} for _, kw in searches)
    assert all(args[0][:-1] == [["parent_state", "=", "posted"]] for args, _ in searches)
    # Odoo was only read: search, search_count, read, fields_get (and the user's context at startup), read_group
    assert {method for _, _, method, _, _ in db.calls} == {"search", "search_count", "read", "fields_get", "read_group"}
    assert {path for path, *_ in db.calls} == {"/xmlrpc/2/object"}


def test_standard_mode_through_the_odoo_mcp_module(uvx: str, tmp_path: Path) -> None:
    read = {"read": True, "write": False, "create": False, "unlink": False}
    db = books.database(
        mcp_models={
            m: read for m in ("account.account", "account.move", "account.move.line", "account.payment", "res.users")
        }
    )
    con, erp = ingest(uvx, db, tmp_path, module=True)
    tables = ("erp_accounts", "erp_journal_lines", "erp_invoices", "erp_bills", "erp_payments")
    assert {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables} == {  # noqa: S608
        "erp_accounts": 9,
        "erp_journal_lines": 30,
        "erp_invoices": 6,
        "erp_bills": 2,
        "erp_payments": 4,
    }
    assert erp.pull.tables["erp_journal_lines"].reported_total == 30
    assert {path for path, *_ in db.calls} == {"/mcp/xmlrpc/object"}
    assert con.execute("select sum(debit), sum(credit) from erp_journal_lines").fetchone() == (
        D("19750.60"),
        D("19750.60"),
    )


def test_a_model_the_module_does_not_enable_fails_the_source_naming_it(uvx: str, tmp_path: Path) -> None:
    read = {"read": True, "write": False, "create": False, "unlink": False}
    db = books.database(mcp_models={m: read for m in ("account.account", "account.move", "account.move.line")})
    with pytest.raises(
        ConnectorError, match=r"tool 'search_records'.*Model 'account.payment' is not enabled for MCP access"
    ):
        ingest(uvx, db, tmp_path, module=True)


def reset_to_draft(db: Database, move: int, *, before_search: int) -> None:
    """Set ``move`` back to draft just before the pull's n-th search of journal items."""
    searches = []

    def hook(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        if model == "account.move.line" and method == "search":
            searches.append(1)
            if len(searches) == before_search:
                db.models["account.move"].rows[move]["state"] = "draft"
                for line in db.models["account.move.line"].rows.values():
                    if line["move_id"] == move:
                        line["parent_state"] = "draft"

    db.before_call = hook


def test_a_move_read_then_reset_to_draft_shifts_nothing(uvx: str, tmp_path: Path) -> None:
    # INV/2026/00001 (items 1003-1005, all on page 1) goes back to draft after page 1: by offset, page 2
    # would start 3 items later and silently skip INV/2026/00002's items 1006-1008; by id it cannot
    db = books.database()
    reset_to_draft(db, 2, before_search=2)
    con, erp = ingest(uvx, db, tmp_path)
    assert erp.pull.tables["erp_journal_lines"].rows == 30
    assert [
        n for (n,) in con.execute("select line_no from erp_journal_lines where entry_id = '3' order by 1").fetchall()
    ] == [1006, 1007, 1008]


def test_a_move_reset_to_draft_before_its_items_are_read_fails_the_source(uvx: str, tmp_path: Path) -> None:
    db = books.database()
    reset_to_draft(db, 3, before_search=2)  # INV/2026/00002's items 1006-1008 are on page 2
    with pytest.raises(
        ConnectorError,
        match=r"account.move.line: 5 records read and 22 left after id 1005, but the "
        r"first page reported a total of 30 \(the data changed during the pull\)",
    ):
        ingest(uvx, db, tmp_path)


def test_a_server_capping_the_page_below_page_size_is_named(uvx: str, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"capped the page at 4 records.*set options.page_size to 4"):
        ingest(uvx, books.database(), tmp_path, ODOO_MCP_MAX_LIMIT="4", ODOO_MCP_DEFAULT_LIMIT="4")


@pytest.mark.parametrize("tool", ["create_record", "update_record", "delete_record", "post_message"])
def test_a_write_tool_in_allow_tools_is_refused_at_config_load(tool: str) -> None:
    with pytest.raises(ConfigError, match=rf"\['{tool}'\] not declared as read tools by adapter 'odoo'"):
        parse_config(raw_config("uvx", {}, allow=["search_records", tool]))


# --- R7: the ledger's own trial balance through aggregate_records ---------------------------------
def r7(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    return {
        p: (s, d)
        for p, s, d in con.execute(
            "select period, status, detail from recon_results where check_id = 'R7_erp_report'"
        ).fetchall()
    }


def test_the_trial_balance_is_the_ledgers_own_balances_at_each_month_end(loaded: Loaded) -> None:
    assert trial_balance(loaded.con) == {JAN: TB_JAN, FEB: TB_FEB}
    table = loaded.erp.pull.tables["erp_trial_balance"]
    assert (table.tool, table.rows, table.reported_total, table.rejected) == ("aggregate_records", 16, 16, [])
    # each side of each report balances, and equals the posted items dated up to the day
    for day, report in ((JAN, TB_JAN), (FEB, TB_FEB)):
        posted = [r for r in books.posted_lines(loaded.db) if r["date"] <= day.isoformat()]
        assert (
            sum(D(d) for d, _ in report.values())
            == sum(D(c) for _, c in report.values())
            == sum(D(repr(r["debit"])) for r in posted)
        )


def test_the_trial_balance_is_one_grouped_read_of_posted_items_per_month_end_paged_by_offset(loaded: Loaded) -> None:
    groups = [(args, kw) for path, model, method, args, kw in loaded.db.calls if method == "read_group"]
    assert all(model == "account.move.line" for _, model, method, _, _ in loaded.db.calls if method == "read_group")
    expected = []
    for day in ("2026-01-31", "2026-02-20"):
        domain = [[["parent_state", "=", "posted"], ["date", "<=", day]]]
        grouped = {
            "fields": ["debit:sum", "credit:sum"],
            "groupby": ["account_id"],
            "lazy": False,
            "orderby": "account_id",
        }
        # 8 accounts at 5 a page (the server asks one more to know whether more follow), then the
        # ungrouped read the two pages must add up to
        expected += [
            (domain, {**grouped, "limit": PAGE + 1, "offset": 0}),
            (domain, {**grouped, "limit": PAGE + 1, "offset": PAGE}),
            (domain, {"fields": ["debit:sum", "credit:sum"], "groupby": [], "lazy": False, "limit": 2, "offset": 0}),
        ]
    assert groups == expected
    calls = loaded.con.execute(
        "select page from connector_calls where tool = 'aggregate_records' order by page"
    ).fetchall()
    assert [p for (p,) in calls] == [1, 2, 3, 4, 5, 6]


def test_r7_passes_when_the_journal_read_serves_every_posted_item(loaded: Loaded) -> None:
    assert r7(loaded.con) == {
        "2026-01": ("pass", "every account's balance equals the ERP's own trial balance at 2026-01-31"),
        "2026-02": ("pass", "every account's balance equals the ERP's own trial balance at 2026-02-20"),
    }


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_r7_fails_naming_the_accounts_when_the_journal_read_misses_a_journal(uvx: str, tmp_path: Path, tz: str) -> None:
    # the user's searches do not return the Miscellaneous Operations journal (the opening capital,
    # Bank 10,000.00 / Capital 10,000.00): the paged journal read is complete by its own totals
    db = books.database(journals_outside_scope=frozenset({books.MISC_JOURNAL}))
    con, erp = ingest(uvx, db, tmp_path, TZ=tz)
    lines = erp.pull.tables["erp_journal_lines"]
    assert lines.rows == lines.reported_total == 28
    assert trial_balance(con) == {JAN: TB_JAN, FEB: TB_FEB}  # the grouped read sees the whole ledger
    recon(con)
    r1 = con.execute("select distinct status from recon_results where check_id = 'R1_trial_balance'").fetchall()
    assert r1 == [("pass",)]  # closeboard's own books balance: only the ERP's report shows the gap
    assert r7(con) == {
        "2026-01": ("fail", "2 account(s) differ from the ERP's own trial balance at 2026-01-31: 1, 9"),
        "2026-02": ("fail", "2 account(s) differ from the ERP's own trial balance at 2026-02-20: 1, 9"),
    }
    items = con.execute(
        "select period, record_id, amount, reason from recon_items where check_id = 'R7_erp_report' "
        "order by period, record_id"
    ).fetchall()
    assert items == [
        (
            "2026-01",
            "1",
            D("-10000.00"),
            "account 1: closeboard balance 1449.75, the ERP's trial balance 11449.75 at 2026-01-31",
        ),
        (
            "2026-01",
            "9",
            D("10000.00"),
            "account 9: closeboard balance 0.00, the ERP's trial balance -10000.00 at 2026-01-31",
        ),
        (
            "2026-02",
            "1",
            D("-10000.00"),
            "account 1: closeboard balance 2054.75, the ERP's trial balance 12054.75 at 2026-02-20",
        ),
        (
            "2026-02",
            "9",
            D("10000.00"),
            "account 9: closeboard balance 0.00, the ERP's trial balance -10000.00 at 2026-02-20",
        ),
    ]


def test_without_aggregate_records_no_trial_balance_is_read_and_r7_is_not_available(uvx: str, tmp_path: Path) -> None:
    config = parse_config(raw_config(uvx, {}, allow=["search_records"]))
    assert "erp_trial_balance" not in adapter_for(config.connectors["erp"]).tables
    assert adapter_for(parse_config(raw_config(uvx, {})).connectors["erp"]).tables[-1] == "erp_trial_balance"
    db = books.database()
    con, erp = ingest(uvx, db, tmp_path, allow=["search_records"])
    assert erp.pull.tables["erp_trial_balance"].pages == 0
    assert con.execute("select count(*) from erp_trial_balance").fetchone() == (0,)
    assert not [c for c in db.calls if c[2] == "read_group"]
    recon(con)
    assert {s for s, _ in r7(con).values()} == {"not_configured"}


def test_groups_that_shift_between_pages_fail_the_pull_as_changed_data(uvx: str, tmp_path: Path) -> None:
    # the draft invoice (Sales 999.00 / AR 999.00, 01-30) is posted between the two pages of groups at
    # 01-31: AR was read before, Sales after; the ungrouped read shows the pages do not add up
    db = books.database()
    reads = []

    def post_draft(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        if method == "read_group":
            reads.append(1)
            if len(reads) == 2:
                db.models["account.move"].rows[7]["state"] = "posted"
                for line in db.models["account.move.line"].rows.values():
                    if line["move_id"] == 7:
                        line["parent_state"] = "posted"

    db.before_call = post_draft
    with pytest.raises(
        ConnectorError,
        match=r"source 'erp', tool 'aggregate_records': the trial balance at 2026-01-31: "
        r"2 pages of groups add up to 22 items, debit 17830.60, credit 18829.60, but "
        r"the ledger's totals are 23 items, debit 18829.60, credit 18829.60 \(the data "
        r"changed during the pull\)",
    ) as info:
        ingest(uvx, db, tmp_path)
    assert info.value.transient


def test_an_odoo_error_on_the_grouped_read_names_the_source_tool_day_and_cause(uvx: str, tmp_path: Path) -> None:
    db = books.database()

    def refuse(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> None:
        if method == "read_group":
            raise AccessError("You are not allowed to access 'Journal Item' (account.move.line) records.")

    db.before_call = refuse
    with pytest.raises(
        ConnectorError,
        match=r"source 'erp', tool 'aggregate_records': the trial balance at 2026-01-31: "
        r".*You are not allowed to access 'Journal Item'",
    ):
        ingest(uvx, db, tmp_path)
