"""The CSV-export CRM server (connectors.servers.crmcsv) feeding the `builtin.crm` adapter: a HubSpot-style
export through a real stdio subprocess, a Salesforce-style one in memory, and malformed files that fail
with the file, the line and the cause."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest

from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.pull import pull_source
from connectors.servers.crmcsv import build_server

FIXTURES = Path(__file__).parent / "fixtures" / "crmcsv"
SETTINGS = ClientSettings(call_timeout_s=30, retries=0, page_limit=2)


def connector(args: list[str] | None = None) -> ConnectorConfig:
    server = ServerConfig(command="python", args=("-m", "connectors.servers.crmcsv", *(args or [])))
    return ConnectorConfig("crm", "builtin.crm", server, ("list_opportunities",), SETTINGS)


async def pull_rows(session: SourceSession) -> tuple[list[dict[str, Any]], Any]:
    rows: list[dict[str, Any]] = []
    pulled = await pull_source(session, adapter_for(session.config), lambda t, b: rows.extend(b.to_pylist()))
    return sorted(rows, key=lambda r: r["opportunity_id"]), pulled.tables["crm_opportunities"]


def opp(
    oid: str,
    cid: str | None,
    name: str | None,
    stage: str,
    amount: str,
    ccy: str,
    close: str | None,
    prob: str | None,
    owner: str,
    won: bool,
    closed: bool,
) -> dict[str, Any]:
    return {
        "opportunity_id": oid,
        "customer_id": cid,
        "customer_name": name,
        "stage": stage,
        "amount": amount,
        "currency": ccy,
        "close_date": close,
        "probability": prob,
        "owner": owner,
        "is_won": "true" if won else "false",
        "is_closed": "true" if closed else "false",
    }


HUBSPOT = [  # hubspot_deals.csv read with hubspot_columns.yaml
    opp("18001", "9001", "Acme Corp", "Closed Won", "12500.00", "USD", "2026-03-31", "100", "Dana Scully", True, True),
    opp("18002", "9002", "Globex Ltd", "Closed Lost", "4999.99", "USD", "2026-04-15", "0", "Fox Mulder", False, True),
    opp(
        "18003",
        "9003",
        "Initech GmbH",
        "Contract Sent",
        "800.5",
        "USD",
        "2026-07-01",
        "90",
        "Dana Scully",
        False,
        False,
    ),
    opp(
        "18004",
        None,
        "Umbrella Co",
        "Appointment Scheduled",
        "-250.00",
        "USD",
        None,
        "20",
        "Walter Skinner",
        False,
        False,
    ),
]
SALESFORCE = [  # salesforce/opportunities.csv read with salesforce/columns.yaml (M/D/YYYY, decimal comma)
    opp(
        "0065g00000AbCdE",
        "0015g0000001",
        "Acme Corp",
        "Closed Won",
        "1234.56",
        "EUR",
        "2026-03-31",
        "100",
        "Ada Lovelace",
        True,
        True,
    ),
    opp(
        "0065g00000AbCdF",
        "0015g0000002",
        "Globex Ltd",
        "Closed Lost",
        "99.90",
        "EUR",
        "2026-04-30",
        "0",
        "Ada Lovelace",
        False,
        True,
    ),
    opp(
        "0065g00000AbCdG",
        None,
        None,
        "Negotiation/Review",
        "10000",
        "GBP",
        "2026-06-30",
        "75",
        "Grace Hopper",
        False,
        False,
    ),
]


def test_a_hubspot_export_over_stdio_then_a_malformed_line(tmp_path: Path) -> None:
    export = tmp_path / "deals.csv"
    shutil.copy(FIXTURES / "hubspot_deals.csv", export)
    config = connector(["--file", str(export), "--columns", str(FIXTURES / "hubspot_columns.yaml")])

    async def go() -> None:
        async with SourceSession(config) as session:
            tools = await session.list_tools()
            assert [t.name for t in tools] == ["list_opportunities", "get_opportunity_summary"]
            assert all(t.annotations.read_only_hint is True for t in tools)
            rows, pulled = await pull_rows(session)
            assert rows == HUBSPOT
            assert (pulled.pages, pulled.reported_total) == (2, 4)  # page_limit 2: paged by cursor
            since, _ = await session.call("list_opportunities", {"updated_since": "2026-06-01"})
            assert [i["opportunity_id"] for i in since["items"]] == ["18003", "18004"]
            # the server re-reads the file when it changes: a line with a bad amount fails the pull
            text = export.read_text()
            export.write_text(
                text
                + "18005,Bad,Closed Won,2026-05-01,Dana Scully,12 dollars,Sales Pipeline,9001,Acme Corp,1,2026-05-02\n"
            )
            with pytest.raises(ConnectorError) as info:
                await pull_rows(session)
            message = str(info.value)
            assert "tool 'list_opportunities'" in message
            assert "CRM export deals.csv, line 6: 18005: Amount: amount '12 dollars' is not a number" in message

    anyio.run(go)


def test_an_export_s_opportunity_summary_is_over_the_rows_it_serves() -> None:
    """The change marker a refresh reads first (get_opportunity_summary, as the bundled CRM server
    answers it): per month of close_date, the count and exact sum of the opportunities served."""
    config = replace(connector(), allow_tools=("list_opportunities", "get_opportunity_summary"))

    async def go() -> dict[str, Any]:
        async with SourceSession(config, server=build_server(FIXTURES / "salesforce")) as session:
            return (await session.call("get_opportunity_summary", {}))[0]

    months: dict[str | None, list] = {}
    for row in SALESFORCE:
        month = months.setdefault(row["close_date"][:7] if row["close_date"] else None, [0, Decimal(0)])
        month[0] += 1
        month[1] += Decimal(row["amount"])
    assert {i["period"]: [i["count"], Decimal(i["amount"])] for i in anyio.run(go)["items"]} == months


def test_a_salesforce_export_in_memory_with_its_directory_mapping() -> None:
    async def go() -> list[dict[str, Any]]:
        server = build_server(FIXTURES / "salesforce")
        async with SourceSession(connector(), server=server) as session:
            rows, pulled = await pull_rows(session)
            assert pulled.pages == 2
            return rows

    assert anyio.run(go) == SALESFORCE


HEADER = "Record ID,Deal Stage,Amount,Close Date,Currency\n"


@pytest.mark.parametrize(
    ("content", "mapping", "expected"),
    [
        (
            "Deal Name,Deal Stage,Amount\nA,Closed Won,10\n",
            None,
            "CRM export export.csv: no column for ['opportunity_id'] (accepted headers: opportunity_id: record id | deal id",
        ),
        (
            HEADER + "1,Closed Won,10,2026-01-01,USD\n2,Closed Won,10,2026-01-01\n",
            None,
            "CRM export export.csv, line 3: 4 fields where the header has 5",
        ),
        (
            HEADER + "1,Closed Won,10,2026-01-01,USD\n1,Closed Lost,5,2026-01-02,USD\n",
            None,
            "CRM export export.csv, line 3: Record ID '1' repeats line 2",
        ),
        (
            HEADER + "1,Closed Won,10,31/01/2026,USD\n",
            None,
            "CRM export export.csv, line 2: 1: Close Date '31/01/2026' is not YYYY-MM-DD: set date_format",
        ),
        (
            HEADER + "1,Closed Won,,2026-01-01,USD\n",
            None,
            "CRM export export.csv, line 2: 1: no Amount (set empty_amount: zero or skip",
        ),
        (
            "Record ID,Deal Stage,Amount\n1,Closed Won,10\n",
            None,
            "CRM export export.csv: no currency column; set currency in the column mapping",
        ),
        (
            HEADER + "1,Closed Won,10,2026-01-01,USD\n",
            "colums: {amount: Amount}\n",
            "column mapping columns.yaml: unknown keys ['colums']",
        ),
        (
            HEADER + "1,Closed Won,10,2026-01-01,USD\n",
            "columns: {amount: Total}\n",
            "CRM export export.csv: the column mapping reads amount from 'Total', which is not in the header",
        ),
    ],
)
def test_a_malformed_export_fails_naming_the_file_line_and_cause(
    tmp_path: Path, content: str, mapping: str | None, expected: str
) -> None:
    (tmp_path / "export.csv").write_text(content)
    if mapping is not None:
        (tmp_path / "columns.yaml").write_text(mapping)

    async def go() -> None:
        async with SourceSession(connector(), server=build_server(tmp_path)) as session:
            await pull_rows(session)

    with pytest.raises(ConnectorError) as info:
        anyio.run(go)
    assert expected in str(info.value)
    assert "source 'crm', tool 'list_opportunities'" in str(info.value)


def test_empty_amount_zero_and_fraction_probability(tmp_path: Path) -> None:
    (tmp_path / "export.csv").write_text(HEADER.replace("\n", ",Probability\n") + "7,Qualified,,2026-02-01,eur,0.25\n")
    (tmp_path / "columns.yaml").write_text(json.dumps({"empty_amount": "zero", "probability_scale": "fraction"}))

    async def go() -> list[dict[str, Any]]:
        async with SourceSession(connector(), server=build_server(tmp_path)) as session:
            return (await pull_rows(session))[0]

    assert anyio.run(go) == [opp("7", None, None, "Qualified", "0", "EUR", "2026-02-01", "25", None, False, False)]


def _pull_export(tmp_path: Path, lines: list[str], decimal_comma: bool) -> list[dict[str, Any]]:
    (tmp_path / "export.csv").write_text(HEADER + "".join(f"{line}\n" for line in lines))
    (tmp_path / "columns.yaml").write_text(json.dumps({"decimal_comma": decimal_comma}))

    async def go() -> list[dict[str, Any]]:
        async with SourceSession(connector(), server=build_server(tmp_path)) as session:
            return (await pull_rows(session))[0]

    return anyio.run(go)


# (decimal_comma, the export's text): values the old reader misread silently (1.234,50 as 1.23450,
# 12,50 as 1250, $1,234.50 as 1.23450 in decimal-comma mode...) and others no pattern reads
MISREAD = [
    (False, "1.234,50"),
    (False, "12,50"),
    (False, "1,5"),
    (False, "1 234.50"),
    (False, "12,3456"),
    (False, "12 dollars"),
    (False, "(-5)"),
    (False, "$12 USD"),
    (False, "1e5"),
    (False, "NaN"),
    (True, "$1,234.50"),
    (True, "(250.00)"),
    (True, "1.5"),
    (True, "1.234 567,5"),
    (True, "1,234.50"),
]


@pytest.mark.parametrize(("decimal_comma", "amount"), MISREAD)
def test_an_amount_the_mode_cannot_read_fails_naming_file_line_and_column(
    tmp_path: Path, decimal_comma: bool, amount: str
) -> None:
    with pytest.raises(ConnectorError) as info:
        _pull_export(
            tmp_path, ["1,Closed Won,10,2026-01-01,USD", f'2,Closed Won,"{amount}",2026-01-01,USD'], decimal_comma
        )
    assert f"CRM export export.csv, line 3: 2: Amount: amount {amount!r} is not a number: expected" in str(info.value)


@pytest.mark.parametrize(
    ("decimal_comma", "read"),
    [
        (
            False,
            {
                "$1,234.50": "1234.50",
                "(250.00)": "-250.00",
                "1,234": "1234",
                "-$1,234.50": "-1234.50",
                "$(250.00)": "-250.00",
                "USD 1,234.50": "1234.50",
                "1,234,567.891 eur": "1234567.891",
                "+5": "5",
                "\u22125.10": "-5.10",
                "(0.00)": "0.00",
                "800.5": "800.5",
                "1234567": "1234567",
            },
        ),
        (
            True,
            {
                "1.234,50": "1234.50",
                "12,50": "12.50",
                "1,5": "1.5",
                "10.000": "10000",
                "1 234,50": "1234.50",
                "1\u202f234,50 €": "1234.50",
                "-1.234.567,89": "-1234567.89",
                "(1.234,50) EUR": "-1234.50",
                "EUR 7": "7",
            },
        ),
    ],
)
def test_amounts_read_exactly_by_their_mode(tmp_path: Path, decimal_comma: bool, read: dict[str, str]) -> None:
    rows = _pull_export(
        tmp_path, [f'{n},Closed Won,"{text}",2026-01-01,USD' for n, text in enumerate(read, 10)], decimal_comma
    )
    assert {r["opportunity_id"]: r["amount"] for r in rows} == {str(n): v for n, v in enumerate(read.values(), 10)}
