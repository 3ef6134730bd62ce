"""The Dagster code location loads, validates, and names what operators expect."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg

from pipelines.definitions import defs
from tests.conftest import REPO


def test_workspace_validates() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful for code location closeboard" in proc.stderr + proc.stdout


def test_refresh_job_covers_one_asset_per_canonical_table_grouped_by_source() -> None:
    job = defs.resolve_job_def("refresh")
    assert job.tags["closeboard/warehouse"] == "write"
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "erp_accounts": "erp", "erp_journal_lines": "erp", "erp_invoices": "erp", "erp_bills": "erp",
        "erp_payments": "erp", "erp_fx_rates": "erp", "erp_trial_balance": "erp", "bank_accounts": "bank", "bank_transactions": "bank", "bank_balances": "bank",
        "crm_opportunities": "crm", "periods": "warehouse", "mart_pnl_monthly": "warehouse",
        "mart_balance_sheet": "warehouse", "mart_kpis": "warehouse", "mart_statements": "warehouse",
        "dashboard": "reports",
        "recon_results": "reconciliation", "recon_items": "reconciliation",
        "recon_bank_matches": "reconciliation", "close_snapshots": "close", "close_snapshot": "close",
    }
    assert all(graph.get(dg.AssetKey(k)).description for k in groups)
