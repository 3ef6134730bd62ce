"""The walking skeleton end to end: the session's demo home (what `closeboard demo` leaves, as
tests/test_cli_smoke.py shows), then `closeboard refresh` with the ERP and CRM servers over stdio
and the bank over streamable HTTP, each server a process of its own."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import assert_kpis_match_reference, cli_in_process, copy_demo, demo_config, read

TABLE_FILES = {
    "erp_accounts": "erp/accounts.csv",
    "erp_journal_lines": "erp/journal_lines.csv",
    "erp_invoices": "erp/invoices.csv",
    "erp_bills": "erp/bills.csv",
    "erp_payments": "erp/payments.csv",
    "bank_accounts": "bank/bank_accounts.csv",
    "bank_transactions": "bank/transactions.csv",
    "bank_balances": "bank/balances.csv",
    "crm_opportunities": "crm/opportunities.csv",
}


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_demo_loads_every_record_exactly(demo_home: Path) -> None:
    demo_dir = demo_home / "demo"
    debit, credit = read(demo_home, "select sum(debit), sum(credit) from erp_journal_lines")[0]
    assert debit == credit and debit > 0
    loads = {
        t: (total, loaded, bad)
        for t, total, loaded, bad in read(
            demo_home, "select table_name, reported_total, rows_loaded, rows_quarantined from source_loads"
        )
    }
    for table, file in TABLE_FILES.items():
        assert loads[table] == (csv_rows(demo_dir / file), csv_rows(demo_dir / file), 0), table
        assert read(demo_home, f"select count(*) from {table}")[0][0] == loads[table][1]


def test_demo_kpis_equal_an_independent_computation(demo_home: Path) -> None:
    assert_kpis_match_reference(demo_home, demo_home / "demo")


def test_demo_writes_page_status_and_audit_trail(demo_home: Path) -> None:
    page = (demo_home / "reports" / "latest.html").read_text(encoding="utf-8")
    company = json.loads((demo_home / "demo" / "company.json").read_text())
    assert company["name"] in page
    last_ended = "2026-05"
    assert f'id="focus-period">{last_ended}<' in page
    revenue = read(demo_home, "select value from mart_kpis where period = ? and kpi = 'revenue'", [last_ended])[0][0]
    assert f"${revenue:,.0f}" in page
    status = json.loads((demo_home / "reports" / "status.json").read_text())
    assert set(status["sources_as_of"]) == {"erp", "bank", "crm", "budget"}
    calls = read(demo_home, "select source, tool, status, items from connector_calls")
    assert {(s, t) for s, t, _, _ in calls} >= {
        ("erp", "list_journal_lines"),
        ("bank", "get_balances"),
        ("crm", "list_opportunities"),
    }
    assert all(status == "ok" for _, _, status, _ in calls)
    assert not (demo_home / "staging").exists() or not any((demo_home / "staging").iterdir())


@pytest.mark.slow  # the servers as processes of their own, over stdio and HTTP
def test_pipeline_with_bank_over_streamable_http(tmp_path: Path, demo_data: Path, http_server) -> None:
    home = tmp_path / "home"
    demo_dir = copy_demo(demo_data, home)
    url = http_server("connectors.servers.bank", demo_dir)
    config = demo_config()
    config["connectors"]["bank"]["server"] = {"url": url, "headers": {"Authorization": "Bearer ${BANK_TOKEN}"}}
    config_path = tmp_path / "closeboard.yaml"
    config_path.write_text(yaml.safe_dump(config))
    # the CLI's own command in this process: the claim is the transport (ERP and CRM over stdio, the
    # bank over streamable HTTP with its header from the environment), not a process of its own
    cli_in_process("--config", str(config_path), "refresh", home=home, env={"BANK_TOKEN": "t0ken"})
    txns = read(home, "select count(*) from bank_transactions")[0][0]
    assert txns == csv_rows(demo_dir / "bank/transactions.csv")
    assert_kpis_match_reference(home, demo_dir)
    arguments = [a for (a,) in read(home, "select arguments from connector_calls where source = 'bank'")]
    assert arguments and not any("t0ken" in a for a in arguments)
