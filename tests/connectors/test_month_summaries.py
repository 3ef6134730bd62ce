"""Documents, payments, bank lines and opportunities by month: the bundled servers' per-month summaries
(`get_document_summary`, `get_transaction_summary`, `get_opportunity_summary`), the list tools' date
filters, and a pull that reads the summaries and pulls only the months whose summary changed, or (the
opportunities, whose list tool has no date window) the whole table only when any month did
(connectors.pull).

The servers run in memory over a private copy of the demo company; every expected figure is
computed here from the CSV files with the csv module and Decimal."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from connectors.adapters.builtin import BankAdapter, CrmAdapter, ErpAdapter
from connectors.client import CallLog, SourceSession
from connectors.config import ConnectorConfig, ServerConfig
from connectors.incremental import stored_baseline
from connectors.periods import windows
from connectors.pull import pull_source
from connectors.servers import bank, crm, erp

DOCUMENTS = {"invoices": ("issue_date", ("total", "balance")), "bills": ("issue_date", ("total", "balance"))}
DOCUMENTS["payments"] = ("paid_date", ("amount",))


@pytest.fixture
def data(demo_data: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(demo_data, tmp_path / "data"))


def rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write(path: Path, fields: list[str], records: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)


async def answer(client: Client, tool: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments or {})
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


def by_period(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["period"]: i for i in items}


def test_document_summary_counts_and_sums_each_issue_month_exactly(data: Path) -> None:
    async def go() -> dict[str, dict[str, Any]]:
        async with Client(erp.build_server(data)) as client:
            return {kind: await answer(client, "get_document_summary", {"kind": kind}) for kind in DOCUMENTS}

    answers = anyio.run(go)
    for kind, (column, amounts) in DOCUMENTS.items():
        expected: dict[str, dict[str, Any]] = defaultdict(lambda sums=amounts: {"count": 0, **dict.fromkeys(sums, 0)})
        for record in rows(data / "erp" / f"{kind}.csv")[1]:
            month = expected[record[column][:7]]
            month["count"] += 1
            for a in amounts:
                month[a] += Decimal(record[a])
        got = {
            i["period"]: {"count": i["count"], **{a: Decimal(i[a]) for a in amounts}} for i in answers[kind]["items"]
        }
        assert got == expected, kind
        assert answers[kind]["total"] == len(expected) and all(len(i["digest"]) == 16 for i in answers[kind]["items"])


def test_a_changed_document_changes_only_its_months_digest_and_the_window_serves_that_month(data: Path) -> None:
    path = data / "erp" / "invoices.csv"
    fields, records = rows(path)
    target = records[len(records) // 2]
    month = target["issue_date"][:7]

    async def go() -> tuple[dict, dict, dict, dict]:
        async with Client(erp.build_server(data)) as client:
            before = by_period((await answer(client, "get_document_summary", {"kind": "invoices"}))["items"])
            write(path, fields, list(reversed(records)))  # the same documents in another order
            reordered = by_period((await answer(client, "get_document_summary", {"kind": "invoices"}))["items"])
            target["customer_name"] = target["customer_name"] + " (renamed)"
            write(path, fields, records)
            after = by_period((await answer(client, "get_document_summary", {"kind": "invoices"}))["items"])
            window = await answer(client, "list_invoices", {"date_from": f"{month}-01", "date_to": f"{month}-31"})
            return before, reordered, after, window

    before, reordered, after, window = anyio.run(go)
    assert reordered == before
    assert {p for p in after if after[p] != before[p]} == {month}
    assert after[month]["count"] == before[month]["count"] and after[month]["total"] == before[month]["total"]
    expected = sorted(r["invoice_id"] for r in records if r["issue_date"][:7] == month)
    assert sorted(i["invoice_id"] for i in window["items"]) == expected and window["total"] == len(expected)


def test_a_document_without_a_valid_date_is_summed_under_no_month(data: Path) -> None:
    """A date no window can serve (2026-02-30) is summarised with period null, so a client pulls the
    table whole instead of missing the record."""
    with (data / "erp" / "bills.csv").open("a", encoding="utf-8") as f:
        f.write("BILL-BAD,V001,Bad Vendor,2026-02-30,2026-03-30,10.00,10.00,USD,open,invoice,\n")

    async def go() -> dict[str, Any]:
        async with Client(erp.build_server(data)) as client:
            return await answer(client, "get_document_summary", {"kind": "bills"})

    undated = [i for i in anyio.run(go)["items"] if i["period"] is None]
    assert [(i["count"], i["total"]) for i in undated] == [(1, "10.00")]


def test_transaction_summary_counts_and_sums_each_account_and_month(data: Path) -> None:
    expected: dict[tuple[str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for record in rows(data / "bank" / "transactions.csv")[1]:
        cell = expected[(record["booked_date"][:7], record["bank_account_id"])]
        cell[0] += 1
        cell[1] += Decimal(record["amount"])

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with Client(bank.build_server(data)) as client:
            every = await answer(client, "get_transaction_summary")
            one = await answer(client, "get_transaction_summary", {"bank_account_id": "BA-002"})
            return every, one

    every, one = anyio.run(go)
    got = {(i["period"], i["bank_account_id"]): [i["count"], Decimal(i["amount"])] for i in every["items"]}
    assert got == expected
    assert {(i["period"], i["bank_account_id"]) for i in one["items"]} == {k for k in expected if k[1] == "BA-002"}


def connector(name: str, adapter: str, allow: tuple[str, ...]) -> ConnectorConfig:
    return ConnectorConfig(name, adapter, ServerConfig(command="python"), allow)


def pull(data: Path, module: Any, config: ConnectorConfig, adapter: Any, baselines: dict | None = None):  # noqa: ANN201
    """One pull of `config` against the in-memory server; (the pull, the calls made, rows per table)."""
    log = CallLog()
    received: dict[str, int] = defaultdict(int)

    async def go() -> Any:
        async with SourceSession(config, log=log, server=module.build_server(data)) as session:
            return await pull_source(
                session, adapter, lambda t, b: received.__setitem__(t, received[t] + b.num_rows), None, baselines
            )

    result = anyio.run(go)
    calls = [(r.tool, json.loads(r.arguments) if r.arguments else {}) for r in log.records]
    return result, calls, received


def test_a_pull_reads_the_document_summaries_and_pulls_only_the_changed_months(data: Path) -> None:
    config = connector("erp", "builtin.erp", ErpAdapter.default_tools)
    first, calls, received = pull(data, erp, config, ErpAdapter())
    assert {t: m.periods for t, m in first.by_month.items()} == dict.fromkeys(
        ("erp_invoices", "erp_bills", "erp_payments")
    )
    whole = {t: len(rows(data / "erp" / f"{t[4:]}.csv")[1]) for t in first.by_month}
    assert {t: received[t] for t in whole} == whole

    baselines = {t: stored_baseline(m.summary, None) for t, m in first.by_month.items()}
    _, calls, received = pull(data, erp, config, ErpAdapter(), baselines)
    assert not {"list_invoices", "list_bills", "list_payments"} & {tool for tool, _ in calls}
    assert [received[t] for t in whole] == [0, 0, 0]

    fields, payments = rows(data / "erp" / "payments.csv")
    payments[0]["amount"] = str(Decimal(payments[0]["amount"]) + Decimal("0.01"))
    write(data / "erp" / "payments.csv", fields, payments)
    month = payments[0]["paid_date"][:7]
    again, calls, received = pull(data, erp, config, ErpAdapter(), baselines)
    assert again.by_month["erp_payments"].periods == [month]
    windows = [args for tool, args in calls if tool == "list_payments"]
    assert [(a["date_from"][:7], a["date_to"][:7]) for a in windows] == [(month, month)]
    assert received["erp_payments"] == sum(1 for p in payments if p["paid_date"][:7] == month)


def test_without_the_summary_tool_allow_listed_documents_and_bank_lines_are_pulled_whole(data: Path) -> None:
    allow = tuple(t for t in ErpAdapter.default_tools if t != "get_document_summary")
    result, calls, received = pull(data, erp, connector("erp", "builtin.erp", allow), ErpAdapter())
    assert result.by_month == {} and "get_document_summary" not in {tool for tool, _ in calls}
    assert received["erp_invoices"] == len(rows(data / "erp" / "invoices.csv")[1])
    allow = ("list_bank_accounts", "list_transactions", "get_balances")
    result, calls, received = pull(data, bank, connector("bank", "builtin.bank", allow), BankAdapter())
    assert result.by_month == {} and [a for t, a in calls if t == "list_transactions"] == [{"limit": 5000}]
    assert received["bank_transactions"] == len(rows(data / "bank" / "transactions.csv")[1])


def test_opportunity_summary_counts_and_sums_each_close_month_exactly(data: Path) -> None:
    expected: dict[str | None, list] = defaultdict(lambda: [0, Decimal(0)])
    for record in rows(data / "crm" / "opportunities.csv")[1]:
        cell = expected[record["close_date"][:7] or None]
        cell[0] += 1
        cell[1] += Decimal(record["amount"])

    async def go() -> dict[str, Any]:
        async with Client(crm.build_server(data)) as client:
            return await answer(client, "get_opportunity_summary")

    items = anyio.run(go)["items"]
    assert {i["period"]: [i["count"], Decimal(i["amount"])] for i in items} == expected
    assert [i["period"] for i in items] == sorted(expected, key=lambda p: (p is None, p or ""))


def test_opportunities_are_pulled_whole_only_when_a_month_of_their_summary_changed(data: Path) -> None:
    """list_opportunities takes no date window: an unchanged summary pulls nothing (the warehouse keeps
    its rows), one changed field of one opportunity pulls the table whole, never one month."""
    config = connector("crm", "builtin.crm", CrmAdapter.default_tools)
    first, calls, received = pull(data, crm, config, CrmAdapter())
    fields, opportunities = rows(data / "crm" / "opportunities.csv")
    assert first.by_month["crm_opportunities"].periods is None  # no baseline yet: whole
    assert received["crm_opportunities"] == len(opportunities)
    assert [t for t, _ in calls][:1] == ["get_opportunity_summary"]

    baselines = {"crm_opportunities": stored_baseline(first.by_month["crm_opportunities"].summary, None)}
    same, calls, received = pull(data, crm, config, CrmAdapter(), baselines)
    assert same.by_month["crm_opportunities"].periods == []
    assert "list_opportunities" not in {t for t, _ in calls} and received["crm_opportunities"] == 0

    opportunities[0]["stage"] = opportunities[0]["stage"] + " (moved)"  # neither count nor amount changes
    write(data / "crm" / "opportunities.csv", fields, opportunities)
    again, calls, received = pull(data, crm, config, CrmAdapter(), baselines)
    assert again.by_month["crm_opportunities"].periods is None
    assert [a for t, a in calls if t == "list_opportunities"][0] == {"limit": 5000}  # no window
    assert received["crm_opportunities"] == len(opportunities)

    allow = ("list_opportunities",)  # without the summary allow-listed: whole, as before it existed
    result, calls, received = pull(data, crm, connector("crm", "builtin.crm", allow), CrmAdapter(), baselines)
    assert result.by_month == {} and received["crm_opportunities"] == len(opportunities)


def test_the_journal_summary_counts_and_sums_each_month_and_its_digest_does_not_depend_on_batching(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """get_journal_summary: per month of posted_date, the lines, Σdebit and Σcredit from the file (csv
    and Decimal here), and a digest computed a batch of rows at a time that is the same whatever the
    batch (a month's rows fall in several batches when there are more than a few)."""
    from connectors.servers import store

    fields, lines = rows(data / "erp" / "journal_lines.csv")
    expected: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for line in lines:
        month = expected[line["posted_date"][:7]]
        month[0] += 1
        month[1] += Decimal(line["debit"] or 0)
        month[2] += Decimal(line["credit"] or 0)

    async def summary() -> dict[str, dict[str, Any]]:
        async with Client(erp.build_server(data)) as client:
            return by_period((await answer(client, "get_journal_summary"))["items"])

    whole = anyio.run(summary)
    assert {p: [i["count"], Decimal(i["debit"]), Decimal(i["credit"])] for p, i in whole.items()} == dict(expected)
    monkeypatch.setattr(store, "DIGEST_BATCH_ROWS", 7)
    assert anyio.run(summary) == whole


def test_the_journal_days_count_and_sum_each_day_of_a_window_and_add_up_to_its_months_digest(data: Path) -> None:
    """get_journal_days over a month: per day of posted_date, the lines, Σdebit and Σcredit from the file
    (csv and Decimal here), days outside the window left out; their digests add up (modulo 2**64) to the
    month's in get_journal_summary; an edited description changes its day's digest alone."""
    path = data / "erp" / "journal_lines.csv"
    fields, lines = rows(path)
    month = max(line["posted_date"][:7] for line in lines)
    expected: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for line in lines:
        if line["posted_date"].startswith(month):
            day = expected[line["posted_date"]]
            day[0] += 1
            day[1] += Decimal(line["debit"] or 0)
            day[2] += Decimal(line["credit"] or 0)
    window = dict(zip(("date_from", "date_to"), windows([month])[0], strict=True))

    async def read() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        async with Client(erp.build_server(data)) as client:
            got = {i["date"]: i for i in (await answer(client, "get_journal_days", window))["items"]}
            return got, by_period((await answer(client, "get_journal_summary", window))["items"])[month]

    days, whole = anyio.run(read)
    assert {d: [i["count"], Decimal(i["debit"]), Decimal(i["credit"])] for d, i in days.items()} == dict(expected)
    assert sum(int(i["digest"], 16) for i in days.values()) % (1 << 64) == int(whole["digest"], 16)
    edited = next(line for line in lines if line["posted_date"].startswith(month))
    edited["description"] = "reworded"
    write(path, fields, lines)
    after, _ = anyio.run(read)
    assert {d for d in days if days[d] != after[d]} == {edited["posted_date"]}
