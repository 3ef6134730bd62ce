"""Bad input end to end: a refresh that cannot read a source fails naming the source and the tool,
and leaves the previous warehouse tables and page exactly as they were; records that do not parse
are quarantined with their reason while the rest loads.

Each test changes a copy of `demo_home`. Bad data is served by the bundled servers in memory and the
refresh runs in this process (the step errors are what `closeboard refresh` prints after `✗`); the
unreachable source is a real HTTP address, so that refresh runs through the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from tests.conftest import closeboard, copy_home, free_port, read, refresh_in_process, step_errors

TABLES = ("erp_journal_lines", "erp_invoices", "bank_transactions", "crm_opportunities", "mart_kpis")


def fingerprint(home: Path) -> dict[str, object]:
    state: dict[str, object] = {
        t: read(home, f"select count(*), md5(string_agg(t::varchar, '|' order by t::varchar)) from {t} as t")[0]
        for t in TABLES
    }
    state["page"] = hashlib.sha256((home / "reports" / "latest.html").read_bytes()).hexdigest()
    return state


def refreshed_copy(demo_home: Path, tmp_path: Path) -> Path:
    return copy_home(demo_home, tmp_path / "home")


def test_malformed_source_data_fails_the_refresh_and_keeps_the_previous_state(demo_home: Path, tmp_path: Path) -> None:
    home = refreshed_copy(demo_home, tmp_path)
    before = fingerprint(home)
    with (home / "demo" / "erp" / "journal_lines.csv").open("a", encoding="utf-8") as f:
        f.write('JE-BROKEN,1,2026-06-01,"unterminated\n')
    result = refresh_in_process(home, check=False)
    assert not result.success
    printed = "\n".join(f"✗ {step}: {message}" for step, message in step_errors(result))
    # the ledger summary is the first tool to read the journal (it decides which months to pull)
    assert "source 'erp', tool 'get_ledger_summary'" in printed and "JE-BROKEN" in printed
    assert fingerprint(home) == before


@pytest.mark.slow  # a refresh through the CLI, the other sources as stdio subprocesses
def test_unreachable_source_fails_the_refresh_and_keeps_the_previous_state(demo_home: Path, tmp_path: Path) -> None:
    home = refreshed_copy(demo_home, tmp_path)
    before = fingerprint(home)
    config = yaml.safe_load((home / "closeboard.yaml").read_text())
    config["connectors"]["bank"]["server"] = {"url": f"http://127.0.0.1:{free_port()}/mcp"}
    config["connectors"]["bank"]["client"] = {"retries": 1, "backoff_s": 0.01}
    (home / "closeboard.yaml").write_text(yaml.safe_dump(config))
    proc = closeboard("--config", str(home / "closeboard.yaml"), "refresh", home=home, check=False)
    assert proc.returncode == 1
    # the transaction summary is the first tool a bank refresh calls (it decides which months to pull)
    assert "source 'bank', tool 'get_transaction_summary'" in proc.stderr
    assert fingerprint(home) == before
    failed = read(home, "select count(*) from connector_calls where source = 'bank' and status = 'error'")[0][0]
    assert failed == 0  # the readers' copy is the last good run's: the failed run published nothing


def test_unparseable_records_are_quarantined_with_their_reason(demo_home: Path, tmp_path: Path) -> None:
    home = refreshed_copy(demo_home, tmp_path)
    invoices_before = read(home, "select count(*) from erp_invoices")[0][0]
    with (home / "demo" / "erp" / "invoices.csv").open("a", encoding="utf-8") as f:
        f.write("INV-BAD-1,C0001,Bad Customer,2026-06-02,2026-07-02,12.3.4,0.00,USD,open,invoice,\n")
        f.write("INV-BAD-2,C0001,Bad Customer,2026-02-30,2026-07-02,10.00,10.00,USD,open,invoice,\n")
    refresh_in_process(home)
    assert read(home, "select count(*) from erp_invoices")[0][0] == invoices_before
    rejected = dict(
        read(
            home,
            """
        select json_extract_string(record, '$.invoice_id'), reason from quarantine
        where source = 'erp' and tool = 'list_invoices' order by 1""",
        )
    )
    assert rejected == {
        "INV-BAD-1": "total: not a valid decimal(18,2): 12.3.4",
        "INV-BAD-2": "issue_date: not a valid date: 2026-02-30",
    }
    loads = read(
        home,
        "select reported_total, rows_received, rows_loaded, rows_quarantined from source_loads "
        "where table_name = 'erp_invoices'",
    )[0]
    assert loads == (invoices_before + 2, invoices_before + 2, invoices_before, 2)
