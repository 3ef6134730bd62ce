"""`closeboard connectors check` against the demo home (read only: the check writes nothing): the CLI
command in this process, the bundled servers over stdio as closeboard.yaml says."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from tests.conftest import cli_in_process


def csv_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.DictReader(f))


def test_check_lists_tools_and_counts_each_table(demo_home: Path) -> None:
    proc = cli_in_process("connectors", "check", home=demo_home)
    out = proc.stdout
    assert "erp (builtin.erp): ok" in out and "bank (builtin.bank): ok" in out and "crm (builtin.crm): ok" in out
    assert "  tool list_journal_lines: allow-listed, read-only, used, approved" in out  # approved on first use
    # the incremental refresh reads the ledger summary: it is used, though no stream reads it
    assert "  tool get_ledger_summary: allow-listed, read-only, used, approved" in out
    assert "not used by adapter" not in out
    demo = demo_home / "demo"
    for table, path in [
        ("erp_journal_lines", "erp/journal_lines.csv"),
        ("erp_accounts", "erp/accounts.csv"),
        ("bank_transactions", "bank/transactions.csv"),
        ("crm_opportunities", "crm/opportunities.csv"),
    ]:
        assert f"  {table}: {csv_rows(demo / path):,} records" in out


def test_check_fails_when_a_required_tool_is_missing(demo_home: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load((demo_home / "closeboard.yaml").read_text(encoding="utf-8"))
    crm_server = raw["connectors"]["crm"]["server"]
    raw["connectors"] = {"erp": {**raw["connectors"]["erp"], "server": crm_server}}  # the ERP adapter on a CRM server
    config = tmp_path / "closeboard.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    proc = cli_in_process("--config", str(config), "connectors", "check", home=demo_home, check=False)
    assert proc.returncode == 1
    assert "erp (builtin.erp): FAILED" in proc.stdout
    assert "required tool 'list_journal_lines' (for erp_journal_lines) is not offered by the server" in proc.stdout
    assert "  tool list_opportunities: -, read-only" in proc.stdout
