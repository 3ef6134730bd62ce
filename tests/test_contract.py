"""The canonical record contract is declared once, in warehouse/sql/schema/canonical.sql; the rest is
derived from it: connectors/records.py parses it (checked here against DuckDB's own reading), the
bundled servers serve and document exactly its columns, and the demo generator writes files whose
values cast into its types."""

from __future__ import annotations

import ast
import asyncio
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from connectors.records import CANONICAL, KEYS, SCHEMA_FILE, TABLES, parse_schema
from warehouse.db import ensure_schema, sql_text


def test_records_read_canonical_sql_as_duckdb_does() -> None:
    """Every table, column, type, NOT NULL and default records.py parses is what DuckDB makes of the
    same file, in the same order, and it is the file the warehouse creates its tables from."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == sql_text("schema", "canonical.sql")
    con = duckdb.connect()
    con.execute(sql_text("schema", "canonical.sql"))
    rows = con.execute(
        """select table_name, column_name, data_type, not is_nullable, column_default
        from duckdb_columns() where schema_name = 'main' and not internal order by table_oid, column_index"""
    ).fetchall()
    duck: dict[str, list[tuple]] = {}
    for table, *column in rows:
        duck.setdefault(table, []).append(tuple(column))
    parsed = {t: [(c.name, c.type, c.required, c.default) for c in cols] for t, cols in TABLES.items()}
    assert list(parsed) == list(duck)
    for table, columns in parsed.items():
        # DuckDB keeps a default as the literal it was given: 'invoice' reads back as 'invoice'
        assert columns == [(n, t, r, d) for n, t, r, d in duck[table]], table
    # the whole warehouse schema (ops, recon, snapshots too) creates the same canonical tables
    full = duckdb.connect()
    ensure_schema(full)
    for table, columns in CANONICAL.items():
        names = full.execute(
            "select column_name from duckdb_columns() where table_name = ? order by column_index", [table]
        ).fetchall()
        assert tuple(n for (n,) in names) == columns, table


def test_every_canonical_table_has_a_key_of_its_own_columns() -> None:
    assert set(KEYS) == set(CANONICAL)
    for table, key in KEYS.items():
        assert key and set(key) <= set(CANONICAL[table]), table
    # the two ways to say it: a column marked `-- key`, or a `-- key: (a, b)` line
    assert KEYS["erp_invoices"] == ("invoice_id",)
    assert KEYS["erp_journal_lines"] == ("entry_id", "line_no")


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("create table if not exists t (\n    a varchar not null\n);", "line 3: table t needs columns and a key"),
        ("create table if not exists t (\n    a varchar -- key\n    b what ever\n);", "line 3: not a column of t"),
        ("create table if not exists t (\n    a varchar -- key\n    -- key: (b)\n);", "line 3: a second key"),
        (
            "create table if not exists t (\n    a varchar\n    -- key: (b)\n);",
            "key of t names columns it does not have",
        ),
        ("create table t (a int);", "line 1: expected 'create table if not exists NAME ('"),
        ("create table if not exists t (\n    a varchar -- key\n", "table t is not closed"),
    ],
)
def test_a_schema_the_parser_does_not_understand_is_refused_naming_the_line(text: str, cause: str) -> None:
    with pytest.raises(ValueError, match=re.escape(cause)):
        parse_schema(text, "x.sql")


def test_a_columns_default_and_decimal_type_are_read() -> None:
    parsed = parse_schema(
        "-- c\ncreate table if not exists t (\n    k  varchar not null, -- key\n"
        "    n  integer not null default 1,\n    m  decimal(18, 8)\n);"
    )
    (cols, key) = parsed["t"]
    assert [(c.name, c.type, c.required, c.default) for c in cols] == [
        ("k", "VARCHAR", True, None),
        ("n", "INTEGER", True, "1"),
        ("m", "DECIMAL(18,8)", False, None),
    ]
    assert key == ("k",)


def _bundled_specs():
    from connectors.servers import bank, budget, crm, erp

    return {"erp": erp, "bank": bank, "crm": crm, "budget": budget}


def test_the_bundled_servers_publish_the_canonical_columns(tmp_path) -> None:
    """Each served table is a canonical table; the page tool's description (what list_tools gives a
    client, over the real MCP client in memory) names exactly its columns, in order, each documented,
    "may be null" exactly where canonical.sql allows null."""
    from mcp.client import Client

    from connectors.demo import generate

    generate(tmp_path, as_of=date(2026, 6, 15), seed=1, scale=1)
    modules = _bundled_specs()

    async def descriptions(module) -> list[str]:
        async with Client(module.build_server(tmp_path)) as client:
            return [t.description or "" for t in (await client.list_tools()).tools]

    served = set()
    for module in modules.values():
        published = asyncio.run(descriptions(module))
        for spec in module.TABLES:
            served.add(spec.table)
            (text,) = [d for d in published if f"Each item ({spec.name}) has exactly these keys" in d]
            items = re.findall(r"^- (\w+): (.+)$", text.split(f"Each item ({spec.name})")[1], re.M)
            assert [name for name, _ in items] == list(CANONICAL[spec.table]), spec.table
            for (name, doc), column in zip(items, TABLES[spec.table], strict=True):
                nullable = doc.endswith(", may be null")
                assert doc.removesuffix(", may be null").strip() and nullable == (not column.required), (
                    spec.table,
                    name,
                )
    # every canonical table but the ERP's own trial balance (get_trial_balance computes it) and, of
    # the sources, only their own family
    assert served == set(CANONICAL) - {"erp_trial_balance"}
    for source, module in modules.items():
        for spec in module.TABLES:
            assert spec.table.startswith(f"{source}_") or spec.table == f"{source}s", spec.table


def test_a_table_spec_documents_every_column_and_only_those() -> None:
    from connectors.servers.specs import TableSpec

    docs = {"bank_account_id": "k", "name": "n", "currency": "c"}
    with pytest.raises(ValueError, match=r"missing: \['gl_account_id'\], not columns: \[\]"):
        TableSpec("bank_accounts", "bank/x.csv", "bank_accounts", docs)
    with pytest.raises(ValueError, match=r"not columns: \['iban'\]"):
        TableSpec("bank_accounts", "bank/x.csv", "bank_accounts", {**docs, "gl_account_id": "g", "iban": "i"})
    with pytest.raises(ValueError, match="'bank_cards' is not a canonical table"):
        TableSpec("cards", "bank/x.csv", "bank_cards", docs)


def test_the_demo_generators_files_cast_into_the_canonical_types(tmp_path) -> None:
    """The generator takes its headers from records.py; its row values, written by position, must
    then land under the right names: every value casts to its column's SQL type and every required
    column is filled (a default stands in for an empty one)."""
    from connectors.demo import generate

    generate(tmp_path, as_of=date(2026, 6, 15), seed=1, scale=1)
    con = duckdb.connect()
    for module in _bundled_specs().values():
        for spec in module.TABLES:
            path = tmp_path / spec.path
            if spec.optional and not path.exists():
                continue
            header = tuple(path.read_text(encoding="utf-8").splitlines()[0].split(","))
            # the canonical columns in order; the CRM's file carries its internal updated_at last
            assert header in (CANONICAL[spec.table], (*CANONICAL[spec.table], "updated_at")), spec.path
            con.execute(
                "create or replace table f as select * from read_csv(?, all_varchar = true, header = true)", [str(path)]
            )
            assert con.execute("select count(*) from f").fetchone()[0] > 0, spec.path
            for column in TABLES[spec.table]:
                value = f"nullif(trim({column.name}), '')"
                bad = con.execute(
                    f"select count(*) from f where {value} is not null and try_cast({value} as {column.type}) is null"
                ).fetchone()[0]
                assert bad == 0, f"{spec.path}: {column.name} not {column.type} in {bad} rows"
                if column.required and column.default is None:
                    missing = con.execute(f"select count(*) from f where {value} is null").fetchone()[0]
                    assert missing == 0, f"{spec.path}: {column.name} required, empty in {missing} rows"


# --- imports run one way, like the data (DESIGN "Layout"; issue 17) ------------------------------

ROOT = Path(__file__).resolve().parents[1]
# plain modules that import nothing of ours, at the head of the flow: every package may read them
NEUTRAL = {"connectors.plain", "connectors.checks", "connectors.periods"}
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
