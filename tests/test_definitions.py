"""The Dagster code location loads, validates, and names what operators expect."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from pipelines.definitions import build_definitions, defs
from tests.conftest import REPO


def test_workspace_validates() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Validation successful for code location closeboard" in proc.stderr + proc.stdout


def test_refresh_job_covers_one_asset_per_canonical_table_grouped_by_source() -> None:
    job = defs.resolve_job_def("refresh")
    assert job.tags["closeboard/warehouse"] == "write"
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "erp_accounts": "erp",
        "erp_journal_lines": "erp",
        "erp_invoices": "erp",
        "erp_bills": "erp",
        "erp_payments": "erp",
        "erp_fx_rates": "erp",
        "erp_trial_balance": "erp",
        "bank_accounts": "bank",
        "bank_transactions": "bank",
        "bank_balances": "bank",
        "crm_opportunities": "crm",
        "budgets": "budget",
        "periods": "warehouse",
        "mart_pnl_monthly": "warehouse",
        "mart_balance_sheet": "warehouse",
        "mart_kpis": "warehouse",
        "mart_statements": "warehouse",
        "mart_budget": "warehouse",
        "dashboard": "reports",
        "recon_results": "reconciliation",
        "recon_items": "reconciliation",
        "recon_bank_matches": "reconciliation",
        "refresh_snapshots": "close",
        "close_snapshot": "close_history",
    }
    assert all(graph.get(dg.AssetKey(k)).description for k in groups)


def test_jobs_select_by_group_refresh_every_unpartitioned_asset_and_backfill_the_partitioned_history() -> None:
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    partitioned = {k for k in keys if graph.get(k).partitions_def is not None}
    assert {k.to_user_string() for k in partitioned} == {"close_snapshot"}

    def selected(job: str) -> set[dg.AssetKey]:
        return set(defs.resolve_job_def(job).asset_layer.selected_asset_keys)

    assert selected("refresh") == keys - partitioned  # a new asset in a new group would be missed: caught here
    assert selected("backfill_history") == partitioned
    assert selected("close_draft") == keys
    assert defs.resolve_job_def("refresh").partitions_def is None


def test_one_asset_name_speaks_of_the_close_history() -> None:
    """Issue 15, item 7: the history is the partitions of `close_snapshot`; the refresh's step that
    appends versions has a name of its own, and `close_snapshots` (the warehouse table) is no asset."""
    from pipelines.close import HISTORY_GROUP, HISTORY_KEY, REFRESH_STEP_KEY

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string(): graph.get(k) for k in graph.get_all_asset_keys()}
    assert "close_snapshots" not in keys
    assert [k for k in keys if "close_snapshot" in k] == [HISTORY_KEY.to_user_string()]
    history = [k for k, node in keys.items() if node.group_name == HISTORY_GROUP]
    assert history == [HISTORY_KEY.to_user_string()] and keys[history[0]].partitions_def is not None
    step = keys[REFRESH_STEP_KEY.to_user_string()]
    assert step.partitions_def is None and step.group_name != HISTORY_GROUP
    assert "the history is the partitions of close_snapshot" in step.description
    assert REFRESH_STEP_KEY in graph.get(HISTORY_KEY).parent_keys  # a backfill after the refresh's step


def _local_imports(path) -> set[str]:
    """The pipelines modules `path` imports when it is imported (module level, not inside functions)."""
    import ast

    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pipelines":
                names |= {f"pipelines.{a.name}" for a in node.names}
            elif node.module.startswith("pipelines."):
                names.add(node.module)
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("pipelines.")}
    return names


def test_the_pipelines_modules_import_one_way() -> None:
    modules = {f"pipelines.{p.stem}": p for p in (REPO / "pipelines").glob("*.py") if p.stem != "__init__"}
    graph = {name: _local_imports(path) & set(modules) for name, path in modules.items()}

    def cycle_from(start: str, path: tuple[str, ...] = ()) -> tuple[str, ...] | None:
        if start in path:
            return (*path, start)
        for nxt in sorted(graph[start]):
            if (found := cycle_from(nxt, (*path, start))) is not None:
                return found
        return None

    cycles = [c for name in graph if (c := cycle_from(name)) is not None]
    assert not cycles, f"import cycle: {' -> '.join(cycles[0])}"
    # the layers: the CLI's runner builds on the code location, which builds on jobs and schedules
    assert "pipelines.runner" not in set().union(*graph.values()) - graph["pipelines.cli"]
    assert graph["pipelines.close"].isdisjoint(
        {"pipelines.definitions", "pipelines.jobs", "pipelines.schedules", "pipelines.runner"}
    )


def test_source_step_retries_come_from_closeboard_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.config import parse_config
    from tests.conftest import demo_config

    monkeypatch.setenv("CLOSEBOARD_SOURCE_RETRIES", "5")  # no longer read: the policy is the config's

    def policies(refresh: dict | None) -> dict[str, dg.RetryPolicy | None]:
        raw = demo_config(sources=("erp", "bank"))
        raw.pop("refresh")
        if refresh is not None:
            raw["refresh"] = refresh
        built = build_definitions(parse_config(raw))
        return {
            source: built.resolve_assets_def(dg.AssetKey(table)).op.retry_policy
            for source, table in (("erp", "erp_accounts"), ("bank", "bank_accounts"), ("crm", "crm_opportunities"))
        }

    default = policies(None)  # once (for what the client did not retry: step_may_retry), after 30 s
    assert [(default[s].max_retries, default[s].delay) for s in ("erp", "bank")] == [(1, 30.0), (1, 30.0)]
    assert default["crm"] is None  # not configured: nothing to retry
    explicit = policies({"source_retries": 2, "source_retry_delay_s": 0.2})
    assert [(explicit[s].max_retries, explicit[s].delay) for s in ("erp", "bank")] == [(2, 0.2), (2, 0.2)]
    assert policies({"source_retries": 0})["erp"] is None


def test_by_default_a_call_the_client_gave_up_on_is_not_pulled_again_as_a_step(
    demo_data, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The attempts do not multiply: the ERP server dies mid-pagination at every try (a stdio server, as
    closeboard.yaml says); the client tries the call twice (client.retries 1) and the step is not tried
    again, while what the client cannot retry (the data changed between pages) still may be."""
    import json

    from connectors.client import ConnectorError
    from connectors.config import load_config
    from pipelines.assets import step_may_retry
    from pipelines.runner import definitions_for, run_job, step_errors
    from tests.conftest import demo_home_at, edit_config
    from warehouse.home import Home

    home = demo_home_at(demo_data, tmp_path / "home", sources=("erp",))
    monkeypatch.setenv("CLOSEBOARD_HOME", str(home))  # a live stdio server's ${CLOSEBOARD_HOME}, as the CLI exports it

    def settings(raw: dict) -> None:
        raw.pop("refresh")  # the default policy
        raw["connectors"]["erp"]["client"] = {"retries": 1, "backoff_s": 0.05}

    config = edit_config(home, settings)
    (home / "demo" / "_switches.json").write_text(json.dumps({"max_page_size": 1000, "fail_at_offset": 3000}))
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_job(definitions_for(Home(home), config=config), "refresh", instance)
        events = [e.event_type_value for e in result.all_events if e.step_key == "erp_source"]
    assert not result.success and "STEP_UP_FOR_RETRY" not in events
    ((step, message),) = step_errors(result)
    assert step == "erp_source" and "tool 'list_journal_lines'" in message and "gave up after 2 attempts" in message

    parsed = load_config(config)
    moved = ConnectorError("erp", "list_journal_lines", "records moved between pages", transient=True)
    gave_up = ConnectorError("erp", "list_journal_lines", "timed out", transient=True, attempts=2)
    assert step_may_retry(parsed, moved) and not step_may_retry(parsed, gave_up)
    assert not step_may_retry(parsed, ConnectorError("erp", "x", "bad data"))  # not transient: never
