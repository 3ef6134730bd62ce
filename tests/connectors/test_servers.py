"""The bundled MCP servers (connectors/servers): tools, paging, filters, reload, summary, transports.

Most tests talk to a server in memory (`Client(build_server(data))`) over a small hand-written data
set whose awkward values (quotes, newlines, missing optional columns) are deliberate; a few run on
the generated demo company, and one each over stdio and streamable HTTP.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pyarrow as pa
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from connectors.servers import bank, crm, erp, hosting, specs, store

ERP_DESIGN_TOOLS = {
    "get_company",
    "list_accounts",
    "list_journal_lines",
    "list_invoices",
    "list_bills",
    "list_payments",
    "get_ledger_summary",
    "get_trial_balance",
}

JOURNAL_HEADER = [
    "entry_id",
    "line_no",
    "posted_date",
    "account_id",
    "debit",
    "credit",
    "currency",
    "description",
    "customer_id",
    "vendor_id",
    "document_id",
    "internal_note",
]

# (module, tool, file, key columns): every paged tool and the file it serves.
PAGED = [
    (erp, "list_accounts", "erp/accounts.csv", ("account_id",)),
    (erp, "list_journal_lines", "erp/journal_lines.csv", ("entry_id", "line_no")),
    (erp, "list_invoices", "erp/invoices.csv", ("invoice_id",)),
    (erp, "list_bills", "erp/bills.csv", ("bill_id",)),
    (erp, "list_payments", "erp/payments.csv", ("payment_id", "line_no")),
    (bank, "list_bank_accounts", "bank/bank_accounts.csv", ("bank_account_id",)),
    (bank, "list_transactions", "bank/transactions.csv", ("txn_id",)),
    (bank, "get_balances", "bank/balances.csv", ("bank_account_id", "balance_date")),
    (crm, "list_opportunities", "crm/opportunities.csv", ("opportunity_id",)),
]
SPEC_OF = {
    "list_accounts": erp.ACCOUNTS,
    "list_journal_lines": erp.JOURNAL_LINES,
    "list_invoices": erp.INVOICES,
    "list_bills": erp.BILLS,
    "list_payments": erp.PAYMENTS,
    "list_bank_accounts": bank.BANK_ACCOUNTS,
    "list_transactions": bank.TRANSACTIONS,
    "get_balances": bank.BALANCES,
    "list_opportunities": crm.OPPORTUNITIES,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --------------------------------------------------------------------------------------------- data


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def append_csv(path: Path, row: list[str]) -> None:
    with path.open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(row)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def journal_rows() -> list[list[str]]:
    """Two-line entries over Jan-Mar 2026, several entries on some days (boundaries get ties)."""
    rows = []
    days = [
        "2026-01-05",
        "2026-01-05",
        "2026-01-31",
        "2026-02-01",
        "2026-02-01",
        "2026-02-14",
        "2026-02-28",
        "2026-03-01",
        "2026-03-15",
        "2026-03-15",
        "2026-03-31",
    ]
    for n, day in enumerate(days):
        amount = f"{100 + n * 17}.{n:02d}"
        text = ['Invoice "INV-1", net', "multi\nline", "café €", ""][n % 4]
        rows.append([f"JE{n:03d}", "1", day, "1200", amount, "0.00", "USD", text, f"C{n % 3}", "", f"INV-{n}", "x"])
        rows.append([f"JE{n:03d}", "2", day, "4000", "0.00", amount, "USD", text, f"C{n % 3}", "", f"INV-{n}", "x"])
    return rows


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A small hand-written company in the bundled servers' file format."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "company.json").write_text(
        json.dumps(
            {
                "name": "Hand Co",
                "currency": "USD",
                "fiscal_year_start_month": 4,
                "timezone": "Europe/Paris",
                "first_period": "2025-12",
                "as_of": "2026-03-31",
            }
        )
    )
    write_csv(
        root / "erp/accounts.csv",
        ["account_id", "name", "type", "subtype", "currency", "parent_id"],
        [
            ["1000", "Cash", "asset", "cash", "USD", ""],
            ["1200", "Receivables", "asset", "ar", "USD", ""],
            ["2000", "Payables", "liability", "ap", "USD", ""],
            ["4000", "Sales", "revenue", "", "USD", ""],
            ["6000", "Rent, office", "expense", "", "USD", ""],
        ],
    )
    # no amount_currency column at all, one extra column: items must still have exactly the canonical keys
    write_csv(root / "erp/journal_lines.csv", JOURNAL_HEADER, journal_rows())
    inv_header = [
        "invoice_id",
        "customer_id",
        "customer_name",
        "issue_date",
        "due_date",
        "total",
        "balance",
        "currency",
        "status",
        "doc_type",
        "voided_date",
    ]
    write_csv(
        root / "erp/invoices.csv",
        inv_header,
        [
            [
                f"INV-{n}",
                f"C{n % 3}",
                "Acme, Inc.",
                f"2026-0{1 + n % 3}-1{n % 9}",
                "",
                f"{n}0.00",
                "0.00",
                "USD",
                "paid",
                "invoice",
                "",
            ]
            for n in range(7)
        ],
    )
    write_csv(
        root / "erp/bills.csv",
        ["bill_id", *inv_header[1:]],
        [
            ["B-1", "V1", "Landlord", "2026-01-01", "2026-01-31", "1000.00", "0.00", "USD", "paid", "invoice", ""],
            ["B-2", "V1", "Landlord", "2026-02-01", "2026-02-28", "1000.00", "1000.00", "USD", "open", "invoice", ""],
        ],
    )
    write_csv(
        root / "erp/payments.csv",
        ["payment_id", "line_no", "document_id", "paid_date", "amount", "currency", "kind"],
        [
            ["P-1", "1", "INV-1", "2026-02-03", "10.00", "USD", "payment"],
            ["P-1", "2", "INV-2", "2026-02-03", "20.00", "USD", "payment"],
            ["P-2", "1", "", "2026-02-04", "5.00", "USD", "payment"],
        ],
    )
    write_csv(
        root / "bank/bank_accounts.csv",
        ["bank_account_id", "name", "currency", "gl_account_id"],
        [
            ["BA1", "Operating", "USD", "1000"],
            ["BA2", "Savings", "USD", "1010"],
        ],
    )
    txns = []
    for n in range(14):
        day = f"2026-0{1 + n // 5}-{10 + n % 5}"
        txns.append(
            [
                f"T{n:03d}",
                "BA1" if n % 3 else "BA2",
                day,
                f"{'-' if n % 2 else ''}{n}.50",
                f"line {n}",
                f"INV-{n}" if n % 2 == 0 else "",
            ]
        )
    write_csv(
        root / "bank/transactions.csv",
        ["txn_id", "bank_account_id", "booked_date", "amount", "description", "reference"],
        txns,
    )
    write_csv(
        root / "bank/balances.csv",
        ["bank_account_id", "balance_date", "closing_balance"],
        [
            [acct, day, f"{i}00.00"]
            for i, day in enumerate(["2026-01-31", "2026-02-28", "2026-03-31"])
            for acct in ("BA1", "BA2")
        ],
    )
    write_csv(
        root / "crm/opportunities.csv",
        [
            "opportunity_id",
            "customer_id",
            "customer_name",
            "stage",
            "amount",
            "currency",
            "close_date",
            "probability",
            "owner",
            "is_won",
            "is_closed",
            "updated_at",
        ],
        [
            [
                "O-1",
                "C0",
                "Acme",
                "closed_won",
                "1200.00",
                "USD",
                "2026-01-20",
                "100",
                "ann",
                "true",
                "true",
                "2026-01-20T09:00:00Z",
            ],
            [
                "O-2",
                "",
                "Newco",
                "proposal",
                "800.00",
                "USD",
                "2026-04-30",
                "40",
                "bob",
                "false",
                "false",
                "2026-02-15T23:30:00-02:00",
            ],  # = 2026-02-16T01:30Z
            [
                "O-3",
                "C1",
                "Beta",
                "closed_lost",
                "50.00",
                "USD",
                "2026-02-01",
                "0",
                "ann",
                "false",
                "true",
                "2026-02-16",
            ],
        ],
    )
    return root


def set_switches(root: Path, **switches: Any) -> None:
    (root / "_switches.json").write_text(json.dumps(switches))


def canonical(row: dict[str, str], columns: tuple[str, ...]) -> dict[str, str | None]:
    return {c: (row.get(c) or None) for c in columns}


# --------------------------------------------------------------------------------------------- client helpers


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, result.content[0].text
    assert result.structured_content is None  # JSON text only, sent once
    return json.loads(result.content[0].text)


async def pull(client: Client, tool: str, args: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every page of one pull, following next_cursor."""
    pages, cursor = [], None
    while True:
        page = await call(client, tool, {**(args or {}), **({"cursor": cursor} if cursor else {})})
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def items(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for page in pages for item in page["items"]]


def key_of(item: dict[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(item[k] for k in keys)


def ledger_from_csv(rows: list[dict[str, str]]) -> dict[tuple[str, str], tuple[int, Decimal, Decimal]]:
    out: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = {}
    for r in rows:
        key = (r["posted_date"][:7], r["account_id"])
        n, d, c = out.get(key, (0, Decimal(0), Decimal(0)))
        out[key] = (n + 1, d + Decimal(r["debit"] or 0), c + Decimal(r["credit"] or 0))
    return out


# --------------------------------------------------------------------------------------------- tools


@pytest.mark.anyio
@pytest.mark.parametrize("module", [erp, bank, crm], ids=["erp", "bank", "crm"])
async def test_every_tool_is_read_only_titled_and_documents_its_items(data: Path, module: Any) -> None:
    async with Client(module.build_server(data)) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == list(module.TOOL_NAMES)
    for tool in tools:
        ann = tool.annotations
        assert ann is not None and ann.read_only_hint is True, tool.name
        assert ann.destructive_hint is False and ann.idempotent_hint is True and ann.open_world_hint is False
        assert tool.title and tool.output_schema is None
        spec = SPEC_OF.get(tool.name)
        if spec is not None:
            assert {"cursor", "limit"} <= set(tool.input_schema["properties"])
            for column in spec.column_names:
                assert f"- {column}:" in (tool.description or ""), (tool.name, column)
    if module is erp:
        assert ERP_DESIGN_TOOLS <= {t.name for t in tools}


@pytest.mark.anyio
async def test_get_company_answers_the_company_file(data: Path) -> None:
    async with Client(erp.build_server(data)) as client:
        company = await call(client, "get_company")
    assert company == {
        "name": "Hand Co",
        "currency": "USD",
        "fiscal_year_start_month": 4,
        "timezone": "Europe/Paris",
        "as_of": "2026-03-31",
        "first_period": "2025-12",
    }


# --------------------------------------------------------------------------------------------- paging


@pytest.mark.anyio
@pytest.mark.parametrize(("module", "tool", "file", "keys"), PAGED, ids=[p[1] for p in PAGED])
async def test_pages_hold_every_record_once_with_canonical_columns(
    data: Path, module: Any, tool: str, file: str, keys: tuple[str, ...]
) -> None:
    set_switches(data, max_page_size=3)  # smaller than limit: the client must follow next_cursor
    rows = read_csv(data / file)
    columns = SPEC_OF[tool].column_names
    async with Client(module.build_server(data)) as client:
        pages = await pull(client, tool, {"limit": 10})
    got = items(pages)
    assert all(len(p["items"]) <= 3 for p in pages)
    assert len(pages) == max(1, -(-len(rows) // 3))
    assert {p["total"] for p in pages} == {len(rows)}
    assert all(p["as_of"].endswith("Z") for p in pages)
    assert all(tuple(item) == columns for item in got)  # exactly the canonical keys, in order
    assert Counter(key_of(i, keys) for i in got) == Counter(key_of(canonical(r, keys), keys) for r in rows)
    by_key = {key_of(i, keys): i for i in got}
    for row in rows:  # values exactly as in the file ("" -> null), money as text
        assert by_key[key_of(canonical(row, keys), keys)] == canonical(row, columns)


@pytest.mark.anyio
async def test_limit_is_clamped_and_items_keep_date_order(data: Path) -> None:
    async with Client(erp.build_server(data)) as client:
        one = await call(client, "list_journal_lines", {"limit": 0})
        everything = await call(client, "list_journal_lines", {"limit": 10**9})
    assert len(one["items"]) == 1 and one["next_cursor"] is not None
    assert everything["next_cursor"] is None and len(everything["items"]) == everything["total"] == 22
    dates = [i["posted_date"] for i in everything["items"]]
    assert dates == sorted(dates)


@pytest.mark.anyio
async def test_date_filters_are_inclusive(data: Path) -> None:
    journal = read_csv(data / "erp/journal_lines.csv")
    txns = read_csv(data / "bank/transactions.csv")
    set_switches(data, max_page_size=4)
    async with Client(erp.build_server(data)) as e, Client(bank.build_server(data)) as b:
        for date_from, date_to in [
            ("2026-02-01", "2026-03-01"),
            ("2026-01-05", None),
            (None, "2026-01-31"),
            ("2026-03-15", "2026-03-15"),
            ("2026-02-02", "2026-02-13"),
            ("2026-03-02", "2026-02-01"),
        ]:
            args = {k: v for k, v in {"date_from": date_from, "date_to": date_to}.items() if v}
            expected = [
                f"{r['entry_id']}/{r['line_no']}"
                for r in journal
                if (date_from or "") <= r["posted_date"] <= (date_to or "9999")
            ]
            pages = await pull(e, "list_journal_lines", args)
            assert [f"{i['entry_id']}/{i['line_no']}" for i in items(pages)] == expected, args
            assert pages[0]["total"] == len(expected)
        got = items(
            await pull(
                b, "list_transactions", {"bank_account_id": "BA1", "date_from": "2026-01-11", "date_to": "2026-02-12"}
            )
        )
        assert [i["txn_id"] for i in got] == [
            r["txn_id"]
            for r in txns
            if r["bank_account_id"] == "BA1" and "2026-01-11" <= r["booked_date"] <= "2026-02-12"
        ]
        balances = items(await pull(b, "get_balances", {"bank_account_id": "BA2", "date_from": "2026-02-28"}))
        assert [(i["balance_date"], i["closing_balance"]) for i in balances] == [
            ("2026-02-28", "100.00"),
            ("2026-03-31", "200.00"),
        ]
        nobody = await call(b, "list_transactions", {"bank_account_id": "NOPE"})
        assert nobody == {**nobody, "items": [], "total": 0, "next_cursor": None}


@pytest.mark.anyio
async def test_updated_since_is_inclusive_in_utc_and_updated_at_is_not_served(data: Path) -> None:
    async with Client(crm.build_server(data)) as client:

        async def ids(since: str) -> list[str]:
            page = await call(client, "list_opportunities", {"updated_since": since})
            assert all("updated_at" not in i for i in page["items"])
            return [i["opportunity_id"] for i in page["items"]]

        assert await ids("2026-02-16T01:30:00Z") == ["O-2"]  # O-2 is 2026-02-15T23:30-02:00
        assert await ids("2026-02-16T01:30:00.000001+00:00") == []
        assert await ids("2026-02-16") == ["O-2", "O-3"]
        assert await ids("2026-01-01") == ["O-1", "O-2", "O-3"]
        result = await client.call_tool("list_opportunities", {"updated_since": "last tuesday"})
        assert result.is_error and "updated_since" in result.content[0].text


# --------------------------------------------------------------------------------------------- changes


@pytest.mark.anyio
async def test_an_appended_line_is_served_on_the_next_call(data: Path) -> None:
    journal = data / "erp/journal_lines.csv"
    async with Client(erp.build_server(data)) as e, Client(crm.build_server(data)) as c:
        before = await call(e, "list_journal_lines", {"date_from": "2026-02-01", "date_to": "2026-02-28"})
        summary_before = await call(e, "get_ledger_summary")
        # a backdated entry: it lands inside February, not at the end of the file's order
        append_csv(journal, ["JE900", "1", "2026-02-10", "6000", "12.34", "0.00", "USD", "late", "", "V1", "", ""])
        append_csv(journal, ["JE900", "2", "2026-02-10", "1000", "0.00", "12.34", "USD", "late", "", "V1", "", ""])
        after = await call(e, "list_journal_lines", {"date_from": "2026-02-01", "date_to": "2026-02-28"})
        summary_after = await call(e, "get_ledger_summary")

        append_csv(
            data / "crm/opportunities.csv",
            [
                "O-4",
                "C2",
                "Gamma",
                "qualify",
                "10.00",
                "USD",
                "",
                "10",
                "bob",
                "false",
                "false",
                "2026-03-01T00:00:00Z",
            ],
        )
        fresh = await call(c, "list_opportunities", {"updated_since": "2026-02-20"})

    assert after["total"] == before["total"] + 2
    new = [i for i in after["items"] if i["entry_id"] == "JE900"]
    assert [i["posted_date"] for i in new] == ["2026-02-10", "2026-02-10"]
    assert [i["posted_date"] for i in after["items"]] == sorted(i["posted_date"] for i in after["items"])
    changed = {(r["period"], r["account_id"]) for r in summary_after["items"]} - {
        (r["period"], r["account_id"]) for r in summary_before["items"]
    }
    assert changed == {("2026-02", "6000"), ("2026-02", "1000")}
    assert [i["opportunity_id"] for i in fresh["items"]] == ["O-4"]


@pytest.mark.anyio
async def test_a_pull_in_progress_keeps_its_snapshot_when_the_file_changes(data: Path) -> None:
    set_switches(data, max_page_size=5)
    journal = data / "erp/journal_lines.csv"
    async with Client(erp.build_server(data)) as client:
        first = await call(client, "list_journal_lines")
        append_csv(journal, ["JE000", "9", "2026-01-01", "1000", "1.00", "0.00", "USD", "", "", "", "", ""])
        rest = await pull(client, "list_journal_lines", {"cursor": first["next_cursor"]})
        again = await call(client, "list_journal_lines")
    seen = items([first, *rest])
    assert {p["total"] for p in [first, *rest]} == {22}
    assert len(seen) == 22 and ("JE000", "9") not in {(i["entry_id"], i["line_no"]) for i in seen}
    assert again["total"] == 23 and again["items"][0]["posted_date"] == "2026-01-01"


@pytest.mark.anyio
async def test_a_rewrite_with_the_same_size_and_timestamp_is_still_seen(data: Path) -> None:
    journal = data / "erp/journal_lines.csv"
    async with Client(erp.build_server(data)) as client:
        before = await call(client, "get_ledger_summary", {"date_to": "2026-01-31"})
        st = journal.stat()
        journal.write_bytes(journal.read_bytes().replace(b"100.00", b"900.00"))  # same size
        os.utime(journal, ns=(st.st_atime_ns, st.st_mtime_ns))  # as if within one timestamp tick
        assert journal.stat().st_size == st.st_size
        after = await call(client, "get_ledger_summary", {"date_to": "2026-01-31"})
    assert (before["items"][0]["debit"], after["items"][0]["debit"]) == ("351.03", "1151.03")


@pytest.mark.anyio
async def test_a_missing_file_names_itself(data: Path) -> None:
    (data / "erp/bills.csv").unlink()
    async with Client(erp.build_server(data)) as client:
        result = await client.call_tool("list_bills", {})
        fx = await call(client, "list_fx_rates")  # optional file: empty, not an error
    assert result.is_error and "erp/bills.csv not found" in result.content[0].text
    assert fx["items"] == [] and fx["total"] == 0


# --------------------------------------------------------------------------------------------- summary


@pytest.mark.anyio
async def test_ledger_summary_equals_the_journal_exactly(data: Path) -> None:
    rows = read_csv(data / "erp/journal_lines.csv")
    async with Client(erp.build_server(data)) as client:
        whole = await call(client, "get_ledger_summary")
        feb = await call(client, "get_ledger_summary", {"date_from": "2026-02-01", "date_to": "2026-02-28"})
    expected = ledger_from_csv(rows)
    assert whole["next_cursor"] is None and whole["total"] == len(whole["items"]) == len(expected)
    assert [(i["period"], i["account_id"]) for i in whole["items"]] == sorted(expected)
    for item in whole["items"]:
        assert (item["lines"], item["debit"], item["credit"]) == tuple(
            v if isinstance(v, int) else f"{v:.2f}" for v in expected[(item["period"], item["account_id"])]
        )
    assert {i["period"] for i in feb["items"]} == {"2026-02"}
    assert feb["items"] == [i for i in whole["items"] if i["period"] == "2026-02"]


@pytest.mark.anyio
async def test_trial_balance_is_the_erps_own_cumulative_report_even_of_lines_the_list_hides(data: Path) -> None:
    rows = read_csv(data / "erp/journal_lines.csv")
    dates = sorted(r["posted_date"] for r in rows)

    def expected_at(day: str, rows: list[dict[str, str]]) -> dict[str, tuple[str, str]]:
        sums: dict[str, list[Decimal]] = {}
        for r in rows:
            if r["posted_date"] <= day:
                account = sums.setdefault(r["account_id"], [Decimal(0), Decimal(0)])
                account[0] += Decimal(r["debit"] or 0)
                account[1] += Decimal(r["credit"] or 0)
        return {a: (f"{d:.2f}", f"{c:.2f}") for a, (d, c) in sums.items()}

    hidden = rows[0]["entry_id"]
    (data / "_switches.json").write_text(json.dumps({"hidden_entries": [hidden]}), encoding="utf-8")
    # before every line, the first day, a month-end, the day before the last, after every line
    days = ["2000-01-01", dates[0], "2026-01-31", dates[-2], "2099-12-31"]
    async with Client(erp.build_server(data)) as client:
        reports = {day: await call(client, "get_trial_balance", {"date": day}) for day in days}
        served = await call(client, "list_journal_lines", {"limit": 5000})
        summary = await call(client, "get_ledger_summary")
        # a line appended to the file counts in the next report (the per-day sums are the file's)
        append_csv(
            data / "erp/journal_lines.csv",
            ["JE-TB", "1", "2026-01-15", "1200", "7.25", "0.00", "USD", "", "", "", "", ""],
        )
        after = await call(client, "get_trial_balance", {"date": "2026-01-31"})
    for day, report in reports.items():
        expected = expected_at(day, rows)
        assert report["next_cursor"] is None and report["total"] == len(report["items"]) == len(expected), day
        assert {i["account_id"]: (i["debit"], i["credit"]) for i in report["items"]} == expected, day
    assert {i["account_id"]: (i["debit"], i["credit"]) for i in after["items"]} == expected_at(
        "2026-01-31", read_csv(data / "erp/journal_lines.csv")
    )
    # the switch hides the entry from the list and the summary, never from the ERP's own report
    assert hidden not in {i["entry_id"] for i in served["items"]}
    assert sum(i["lines"] for i in summary["items"]) == len(rows) - sum(r["entry_id"] == hidden for r in rows)


@pytest.mark.anyio
async def test_ledger_summary_keeps_sub_cent_values_exact(data: Path) -> None:
    write_csv(
        data / "erp/journal_lines.csv",
        JOURNAL_HEADER,
        [
            ["E1", "1", "2026-01-02", "1000", "0.105", "", "USD", "", "", "", "", ""],
            ["E1", "2", "2026-01-02", "1000", "0.1", "0", "USD", "", "", "", "", ""],
            ["E1", "3", "2026-01-02", "4000", "0", "0.205", "USD", "", "", "", "", ""],
        ],
    )
    async with Client(erp.build_server(data)) as client:
        summary = await call(client, "get_ledger_summary")
    assert summary["items"] == [
        {"period": "2026-01", "account_id": "1000", "lines": 2, "debit": "0.205", "credit": "0.00"},
        {"period": "2026-01", "account_id": "4000", "lines": 1, "debit": "0.00", "credit": "0.205"},
    ]


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.anyio
async def test_bad_arguments_are_tool_errors_with_a_reason(data: Path) -> None:
    async with Client(erp.build_server(data)) as client:
        page = await call(client, "list_journal_lines", {"limit": 2})
        cases = [
            ("list_journal_lines", {"cursor": "not-a-cursor"}, "invalid cursor"),
            ("list_journal_lines", {"cursor": "Zm9v"}, "invalid cursor"),
            ("list_journal_lines", {"cursor": page["next_cursor"], "date_from": "2026-01-01"}, "does not belong"),
            ("list_accounts", {"cursor": page["next_cursor"]}, "does not belong"),
            ("list_journal_lines", {"date_from": "2026-02-30"}, "date_from must be an ISO date"),
            ("get_ledger_summary", {"date_to": "March"}, "date_to must be an ISO date"),
            ("list_journal_lines", {"limit": "many"}, "limit"),
        ]
        for tool, args, reason in cases:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            assert reason in result.content[0].text, result.content[0].text


# --------------------------------------------------------------------------------------------- generated demo


@pytest.mark.anyio
async def test_generated_demo_pages_every_record_once_and_summary_matches(tmp_path: Path, demo_data: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(demo_data, root)
    async with (
        Client(erp.build_server(root)) as e,
        Client(bank.build_server(root)) as b,
        Client(crm.build_server(root)) as c,
    ):
        servers = {erp: e, bank: b, crm: c}
        for module, tool, file, keys in PAGED:
            rows = read_csv(root / file)
            set_switches(root, max_page_size=max(2, len(rows) // 4 + 1))
            pages = await pull(servers[module], tool, {"limit": 5000})
            assert {p["total"] for p in pages} == {len(rows)}, tool
            assert Counter(key_of(i, keys) for i in items(pages)) == Counter(key_of(r, keys) for r in rows), tool
        summary = await call(e, "get_ledger_summary")
    expected = ledger_from_csv(read_csv(root / "erp/journal_lines.csv"))
    assert {
        (i["period"], i["account_id"]): (i["lines"], Decimal(i["debit"]), Decimal(i["credit"]))
        for i in summary["items"]
    } == expected


# --------------------------------------------------------------------------------------------- transports


@pytest.mark.anyio
async def test_stdio_server_dies_hard_when_told_and_a_new_process_resumes_its_cursor(
    data: Path, tmp_path: Path
) -> None:
    set_switches(data, max_page_size=4)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "connectors.servers.erp", "--data", str(data)],
        env={"CLOSEBOARD_HOME": str(tmp_path)},
    )
    with anyio.fail_after(60):
        async with Client(params, read_timeout_seconds=30) as client:
            assert ERP_DESIGN_TOOLS <= {t.name for t in (await client.list_tools()).tools}
            first = await call(client, "list_journal_lines", {"limit": 1000})
            set_switches(data, max_page_size=4, fail_after_pages=2)  # one more paged answer, then exit(3)
            second = await call(client, "list_journal_lines", {"cursor": first["next_cursor"]})
            await call(client, "get_company")  # not a paged call: still answered
            with pytest.raises(MCPError, match="Connection closed"):
                await client.call_tool("list_journal_lines", {"cursor": second["next_cursor"]})
        set_switches(data, max_page_size=4)
        async with Client(params, read_timeout_seconds=30) as client:  # a new process takes the cursor
            rest = await pull(client, "list_journal_lines", {"cursor": second["next_cursor"]})
    got = items([first, second, *rest])
    assert len(got) == 22 == first["total"] == rest[-1]["total"]
    assert len({(i["entry_id"], i["line_no"]) for i in got}) == 22


@pytest.mark.anyio
async def test_streamable_http_server_answers_plain_json(data: Path, http_server: Any) -> None:
    url = http_server("connectors.servers.bank", data)
    with anyio.fail_after(60):
        async with (
            httpx2.AsyncClient() as http,
            Client(
                streamable_http_client(url, http_client=http, max_sse_event_size=None), read_timeout_seconds=30
            ) as client,
        ):
            tools = (await client.list_tools()).tools
            assert [t.name for t in tools] == list(bank.TOOL_NAMES)
            assert all(t.annotations and t.annotations.read_only_hint for t in tools)
            pages = await pull(client, "list_transactions", {"limit": 5})
    assert len(items(pages)) == 14 == pages[0]["total"]


@pytest.mark.anyio
async def test_bearer_guard_refuses_requests_without_the_token() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope.get("path", scope["type"]))

    guard = hosting.BearerGuard(app, "s3cret")
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    base = {"type": "http", "path": "/mcp"}
    await guard({**base, "headers": [(b"authorization", b"Bearer wrong")]}, None, send)
    await guard({**base, "headers": []}, None, send)
    await guard({**base, "headers": [(b"authorization", b"Bearer s3cret")]}, None, send)
    await guard({"type": "lifespan"}, None, send)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [401, 401]
    assert seen == ["/mcp", "lifespan"]  # only the right token (and non-HTTP scopes) pass


def test_command_line_refuses_a_missing_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        erp.main(["--data", str(tmp_path / "nowhere")])
    assert info.value.code == 2 and "data directory not found" in capsys.readouterr().err


def test_default_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLOSEBOARD_DATA", raising=False)
    monkeypatch.setenv("CLOSEBOARD_HOME", str(tmp_path))
    assert hosting.default_data_dir() == tmp_path / "demo"
    monkeypatch.setenv("CLOSEBOARD_DATA", str(tmp_path / "mine"))
    assert hosting.default_data_dir() == tmp_path / "mine"


# --------------------------------------------------------------------------------------------- helpers


def test_items_json_is_json_dumps_of_the_rows() -> None:
    awkward = ['x"y', None, "a\\b\n\x01é", "", "\x00N", "\u2028", "tab\tend", "plain"]
    table = pa.table({"a": awkward, 'k"ey': list(reversed(awkward)), "n": pa.nulls(len(awkward), pa.string())})
    assert store.items_json(table) == json.dumps(table.to_pylist(), separators=(",", ":"), ensure_ascii=False)
    assert json.loads(store.items_json(table)) == table.to_pylist()
    assert store.items_json(table.slice(0, 0)) == "[]"


def test_format_decimal_is_exact() -> None:
    assert [store.format_decimal(Decimal(v)) for v in ["0", "12.3", "-5.00", "0.125", "7.1000000000"]] == [
        "0.00",
        "12.30",
        "-5.00",
        "0.125",
        "7.10",
    ]
    assert store.format_decimal(None) == "0.00"


def test_cursor_round_trip() -> None:
    cursor = store.encode_cursor("abc123", "q1", 4000)
    assert store.decode_cursor(cursor, "q1") == ("abc123", 4000)
    with pytest.raises(specs.SourceError):
        store.decode_cursor(cursor, "q2")
    with pytest.raises(specs.SourceError):
        store.decode_cursor("%%%", "q1")


def test_building_a_server_leaves_the_hosts_logging_alone(data: Path) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    erp.build_server(data), bank.build_server(data), crm.build_server(data)
    assert (list(root.handlers), root.level) == before
