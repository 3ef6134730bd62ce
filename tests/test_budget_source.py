"""The budget source (`builtin.budget` over the bundled budget server, docs/budget.md) through the real
MCP client, in memory: rows it cannot take go to `quarantine`, each with the source, the tool, the
record and the reason; a file that cannot be read fails the source, naming it, and the budget loaded
before stays as it was."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from connectors.client import ConnectorError
from connectors.config import load_config
from connectors.servers import budget as budget_server
from pipelines.ingest import ingest_source
from tests.conftest import write_config
from warehouse.db import connect, ensure_schema
from warehouse.home import Home

HEADER = "period,account_id,kpi,amount,currency\n"
GOOD = ["2026-05,4100,,700000.00,USD", "2026-05,6100,,350000.00,USD", "2026-05,,net_burn,80000.00,USD"]
BAD = {
    "2026-13,4150,,100.00,USD": "period must be a month YYYY-MM",
    "2026-05,4200,revenue,100.00,USD": "give exactly one of account_id and kpi",
    "2026-05,,,100.00,USD": "give exactly one of account_id and kpi",
    "2026-05,,gross_margin_pct,50.00,USD": "kpi must be one of",
    "2026-05,4100,,1.00,USD": "a second amount for the same month and account (item 1 came first)",
    "2026-05,5100,,12.345,USD": "amount: more decimal places than decimal(18,2) holds: 12.345",
    "2026-05,5200,,twelve,USD": "amount: not a valid decimal(18,2): twelve",
    "2026-05,5300,,,USD": "amount: required but missing",
    "2026-05,6200,,500.00,EUR": "currency EUR is not the reporting currency USD",
}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    root = tmp_path / "home"
    (root / "demo").mkdir(parents=True)
    write_config(root, sources=("erp", "budget"))
    return Home(root)


def warehouse(home: Home):
    @contextlib.contextmanager
    def open_() -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(home.warehouse)
        try:
            ensure_schema(con)
            yield con
        finally:
            con.close()

    return open_


def ingest(home: Home, run_id: str):
    config = load_config(home.root / "closeboard.yaml")
    return ingest_source(
        config,
        "budget",
        home=home,
        run_id=run_id,
        connect=warehouse(home),
        server=budget_server.build_server(home.root / "demo"),
    )


def test_bad_budget_rows_are_quarantined_with_their_reason_and_the_rest_loads(home: Home) -> None:
    (home.root / "demo" / "budget.csv").write_text(HEADER + "\n".join([*GOOD, *BAD]) + "\n", encoding="utf-8")
    result = ingest(home, "run-1")
    assert result.published["budgets"].loaded == len(GOOD)
    with warehouse(home)() as con:
        loaded = con.execute(
            "select period, coalesce(account_id, kpi), amount::varchar from budgets order by all"
        ).fetchall()
        quarantined = con.execute(
            "select source, tool, record, reason from quarantine where run_id = 'run-1'"
        ).fetchall()
    assert loaded == sorted((g.split(",")[0], g.split(",")[1] or g.split(",")[2], g.split(",")[3]) for g in GOOD)
    assert len(quarantined) == len(BAD)
    for source, tool, record, reason in quarantined:
        assert (source, tool) == ("budget", "list_budgets")
        fields = json.loads(record)
        line = ",".join(fields.get(k) or "" for k in ("period", "account_id", "kpi", "amount", "currency"))
        assert BAD[line] in reason, (line, reason)


def test_a_broken_budget_file_fails_the_source_and_keeps_the_budget_loaded_before(home: Home) -> None:
    path = home.root / "demo" / "budget.csv"
    path.write_text(HEADER + "\n".join(GOOD) + "\n", encoding="utf-8")
    ingest(home, "run-1")
    path.write_bytes(b'period,account_id,kpi,amount,currency\n2026-06,4100,,"1.00,USD\n')  # an unclosed quote
    with pytest.raises(ConnectorError) as failed:
        ingest(home, "run-2")
    assert "budget" in str(failed.value) and "list_budgets" in str(failed.value) and "budget.csv" in str(failed.value)
    with warehouse(home)() as con:
        assert con.execute("select count(*) from budgets").fetchone()[0] == len(GOOD)
