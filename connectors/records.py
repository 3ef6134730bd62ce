"""Canonical records, the contract every adapter maps its server's tools into.

Declared once: warehouse/sql/schema/canonical.sql names the tables, their columns in order, their
SQL types, which are required (NOT NULL), their defaults and keys (``-- key`` comments). This module
reads that file at import with a small parser (strict: a line it does not understand is an error
naming the line), so the adapters, the bundled servers and the demo generator take their columns
from here; tests/test_contract.py checks the parse against DuckDB's own reading of the file.
(Reading a file, not importing the warehouse: connectors still import nothing downstream.)
Records travel as text: money as decimal strings, dates ISO, so nothing passes through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "warehouse" / "sql" / "schema" / "canonical.sql"


@dataclass(frozen=True)
class Column:
    """One column of a canonical table as canonical.sql declares it."""

    name: str
    type: str  # as DuckDB names it: VARCHAR, INTEGER, DATE, BOOLEAN, DECIMAL(18,2), ...
    required: bool  # NOT NULL: a record without it is quarantined
    default: str | None = None  # the SQL literal a missing value takes (e.g. 'invoice')


_TABLE = re.compile(r"create table if not exists (\w+) \($", re.I)
_TYPE = r"\w+(?:\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?"
_COLUMN = re.compile(
    rf"(?P<name>\w+)\s+(?P<type>{_TYPE})(?P<not_null>\s+not null)?(?:\s+default\s+(?P<default>'[^']*'|[\w.+-]+))?"
    r"\s*,?\s*(?:--\s*(?P<comment>.*))?$",
    re.I,
)
_COMPOSITE_KEY = re.compile(r"--\s*key:\s*\((\w+(?:,\s*\w+)*)\)$")
_KEY_COMMENT = re.compile(r"key\b(?!:)")


def parse_schema(text: str, where: str = "canonical.sql") -> dict[str, tuple[tuple[Column, ...], tuple[str, ...]]]:
    """table -> (its columns in order, its key) from canonical.sql's text. The file keeps to one
    shape (one ``create table if not exists NAME (`` a table, one column a line, ``);`` to close); a
    key is one column marked ``-- key`` or a ``-- key: (a, b)`` line. Anything else is a ValueError
    naming the line."""
    tables: dict[str, tuple[tuple[Column, ...], tuple[str, ...]]] = {}
    table: str | None = None
    columns: list[Column] = []
    keys: list[str] = []

    def fail(number: int, line: str, cause: str) -> ValueError:
        return ValueError(f"{where}, line {number}: {cause}: {line.strip()!r}")

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if table is None:
            if not stripped or stripped.startswith("--"):
                continue
            if (opened := _TABLE.match(stripped)) is None:
                raise fail(number, line, "expected 'create table if not exists NAME (' or a comment")
            table, columns, keys = opened.group(1), [], []
            if table in tables:
                raise fail(number, line, f"table {table} declared twice")
        elif stripped == ");":
            if not columns or not keys:
                raise fail(number, line, f"table {table} needs columns and a key")
            tables[table] = (tuple(columns), tuple(keys))
            table = None
        elif composite := _COMPOSITE_KEY.match(stripped):
            if keys:
                raise fail(number, line, f"a second key for {table}")
            keys = [k.strip() for k in composite.group(1).split(",")]
        elif not stripped or stripped.startswith("--"):
            continue
        elif column := _COLUMN.match(stripped):
            name, default = column.group("name"), column.group("default")
            sql_type = re.sub(r"\s+", "", column.group("type")).upper()
            columns.append(Column(name, sql_type, bool(column.group("not_null")), default))
            if column.group("comment") and _KEY_COMMENT.match(column.group("comment")):
                if keys:
                    raise fail(number, line, f"a second key for {table}")
                keys = [name]
        else:
            raise fail(number, line, f"not a column of {table}")
    if table is not None:
        raise ValueError(f"{where}: table {table} is not closed with ');'")
    for name, (cols, key) in tables.items():
        unknown = [k for k in key if k not in {c.name for c in cols}]
        if unknown:
            raise ValueError(f"{where}: the key of {name} names columns it does not have: {unknown}")
    return tables


_SCHEMA = parse_schema(SCHEMA_FILE.read_text(encoding="utf-8"), str(SCHEMA_FILE))

TABLES: dict[str, tuple[Column, ...]] = {table: columns for table, (columns, _) in _SCHEMA.items()}
"""Every canonical table, in canonical.sql's order, with its columns."""
CANONICAL: dict[str, tuple[str, ...]] = {table: tuple(c.name for c in columns) for table, columns in TABLES.items()}
"""Every canonical table's column names, in order."""
KEYS: dict[str, tuple[str, ...]] = {table: key for table, (_, key) in _SCHEMA.items()}
"""Every canonical table's key (enforced by the publish step, not a PRIMARY KEY)."""


# A source feeds the family of tables named after it: the `erp` connector the erp_* tables, and so on.
# (the `budget` connector feeds the one table `budgets`)
SOURCES: tuple[str, ...] = ("erp", "bank", "crm", "budget")


def source_tables(source: str) -> tuple[str, ...]:
    """The canonical tables a source feeds (whichever adapter reads it)."""
    return tuple(t for t in CANONICAL if t.startswith(f"{source}_") or t == f"{source}s")


def text_schema(table: str) -> pa.Schema:
    """The staging schema of a canonical table: every column text, as received."""
    return pa.schema([(name, pa.string()) for name in CANONICAL[table]])
