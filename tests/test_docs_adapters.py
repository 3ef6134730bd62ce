"""docs/adapters.md stands alone: every adapter, every option an adapter reads, and every column of
every canonical table is documented there (the file a new user configures a real system from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.adapters import _REGISTRY, get_adapter
from connectors.records import CANONICAL, KEYS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "adapters.md").read_text(encoding="utf-8")


def _section(adapter: str) -> str:
    """The doc's text about `adapter`: from each heading that names it in backticks to the next heading."""
    parts = re.split(r"^(?=#{2,3} )", DOC, flags=re.MULTILINE)
    named = [p for p in parts if f"`{adapter}`" in p.splitlines()[0]] if parts else []
    return "\n".join(named)


@pytest.mark.parametrize("name", sorted(_REGISTRY))
def test_every_adapter_is_in_the_table_of_adapters(name: str) -> None:
    table = DOC[DOC.index("| adapter | server | tables |") : DOC.index("## The canonical tables")]
    assert f"`{name}`" in table


@pytest.mark.parametrize("name", sorted(n for n in _REGISTRY if get_adapter(n).options))
def test_every_option_of_an_adapter_is_documented_in_its_section(name: str) -> None:
    section = _section(name)
    assert section, f"docs/adapters.md has no section whose heading names `{name}`"
    missing = [o for o in get_adapter(name).options if not re.search(rf"(`{o}`|\b{o}:|options\.{o}\b)", section)]
    assert not missing, f"{name}: options not documented in its section: {missing}"


@pytest.mark.parametrize("table", sorted(CANONICAL))
def test_every_canonical_column_and_key_is_documented(table: str) -> None:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| {table} |")]
    assert len(rows) == 1, f"one row for {table} in the canonical tables"
    row = rows[0]
    own = [c for c in CANONICAL[table] if c not in ("vendor_name",) or table != "erp_bills"]
    missing = [
        c
        for c in own
        if not re.search(rf"\b{c}\b", row) and not (table == "erp_bills" and "the rest as invoices" in row)
    ]
    assert not missing, f"{table}: columns not documented: {missing}"
    for key in KEYS[table]:
        assert f"**{key}**" in row.split("|")[2], f"{table}: key {key} not marked in the key column"


def test_the_doc_stands_alone() -> None:
    assert "DESIGN" not in DOC  # a design file users do not have
    for needed in (
        "approved on trust",
        "max_rejected_share",
        "not configured",
        "CAST(",
        "credit note",
        "Worked example",
    ):
        assert needed.lower() in DOC.lower(), needed
