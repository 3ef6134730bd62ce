"""The canonical record contract is declared once per layer (connectors' text columns, the
warehouse's SQL types, the bundled servers' documented columns, the demo generator's files); they
must name the same tables, columns and keys in the same order."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import duckdb

from connectors.records import CANONICAL, KEYS
from warehouse.db import ensure_schema, sql_text

SCHEMA = sql_text("schema", "canonical.sql")


def test_connector_records_match_the_warehouse_schema() -> None:
    con = duckdb.connect()
    ensure_schema(con)
    for table, columns in CANONICAL.items():
        declared = [
            name
            for (name,) in con.execute(
                "select column_name from duckdb_columns() where table_name = ? order by column_index", [table]
            ).fetchall()
        ]
        assert tuple(declared) == columns, table
        block = SCHEMA.split(f"create table if not exists {table} (")[1].split(");")[0]
        composite = re.search(r"-- key: \(([^)]*)\)", block)
        keys = composite.group(1).split(", ") if composite else re.findall(r"^\s+(\w+)\s.*-- key$", block, re.M)
        assert tuple(keys) == KEYS[table], table


def _served_tables() -> dict[str, tuple[str, ...]]:
    """The canonical table each bundled server's TableSpec serves, with the columns it serves."""
    from connectors.servers import bank, budget, crm, erp

    served = {}
    for source, module in (("erp", erp), ("bank", bank), ("crm", crm), ("budget", budget)):
        for spec in module.TABLES:
            name = (
                spec.name
                if spec.name.startswith(f"{source}_") or spec.name == f"{source}s"
                else f"{source}_{spec.name}"
            )
            served[name] = spec.column_names
    return served


def test_the_bundled_servers_serve_the_canonical_columns() -> None:
    served = _served_tables()
    # every canonical table but the ERP's own trial balance, which get_trial_balance computes
    assert set(served) == set(CANONICAL) - {"erp_trial_balance"}
    for table, columns in served.items():
        assert columns == CANONICAL[table], table


def test_the_demo_generator_writes_the_files_the_servers_read(tmp_path) -> None:
    from datetime import date

    from connectors.demo import generate
    from connectors.servers import bank, budget, crm, erp

    generate(tmp_path, as_of=date(2026, 6, 15), seed=1, scale=1)
    for spec in (*erp.TABLES, *bank.TABLES, *crm.TABLES, *budget.TABLES):
        path = tmp_path / spec.path
        if spec.optional and not path.exists():
            continue
        header = tuple(path.read_text(encoding="utf-8").splitlines()[0].split(","))
        # the served columns in order; a file may carry more (the CRM's updated_at), which are not served
        assert tuple(c for c in header if c in spec.column_names) == spec.column_names, spec.path
        assert set(header) - set(spec.column_names) <= {"updated_at"}, spec.path


# --- imports run one way, like the data (DESIGN "Layout"; issue 17) ------------------------------

ROOT = Path(__file__).resolve().parents[1]
# plain modules that import nothing of ours, at the head of the flow: every package may read them
NEUTRAL = {"connectors.plain", "connectors.checks"}
PACKAGES = ("connectors", "warehouse", "pipelines", "reports")


def _imports(package: str) -> dict[str, set[str]]:
    """module file -> the closeboard modules it imports (anywhere in it, function-level included)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[str(path.relative_to(ROOT))] = {n for n in names if n.split(".")[0] in PACKAGES}
    return found


def test_imports_run_one_way() -> None:
    """connectors imports nothing downstream; warehouse only the neutral modules of connectors;
    reports never pipelines (the served page starts a refresh, it does not import one) and, of the
    connectors, not the client or its audit."""
    wrong = []
    for path, names in _imports("connectors").items():
        wrong += [f"{path}: {n}" for n in names if n.split(".")[0] != "connectors"]
        if path.removesuffix(".py").replace("/", ".") in NEUTRAL:
            wrong += [f"{path}: {n} (a neutral module imports nothing of ours)" for n in names]
    for path, names in _imports("warehouse").items():
        wrong += [
            f"{path}: {n}"
            for n in names
            if n.split(".")[0] in ("pipelines", "reports") or (n.startswith("connectors") and n not in NEUTRAL)
        ]
    for path, names in _imports("reports").items():
        wrong += [
            f"{path}: {n}"
            for n in names
            if n.split(".")[0] == "pipelines" or n in ("connectors.audit", "connectors.client")
        ]
    assert wrong == []


def test_the_check_registry_is_one_object_under_both_names() -> None:
    """closeboard.yaml validates severity keys against the same registry the recon runner grades with."""
    from connectors import checks as registry
    from warehouse import checks

    assert checks.CHECKS is registry.CHECKS and checks.BY_ID is registry.BY_ID
