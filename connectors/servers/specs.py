"""What a bundled server serves: its tables (``TableSpec``: a CSV file and the canonical table it serves,
each column documented), page limits, the tools' argument types and read-only annotations, and ``SourceError``
(an anticipated failure the client gets as ``is_error``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from connectors.records import TABLES

MAX_LIMIT = 5000
"""Largest page a server returns (DESIGN: stdio pages stay under ~5k rows)."""
DEFAULT_LIMIT = 1000

READ_ONLY = ToolAnnotations(
    read_only_hint=True,
    idempotent_hint=True,
    destructive_hint=False,
    open_world_hint=False,
)

# Argument types shared by the tool signatures (pydantic builds the input schema from them).
Cursor = Annotated[
    str | None,
    Field(description="Opaque cursor from the previous page's next_cursor; omit for the first page."),
]
Limit = Annotated[
    int | None,
    Field(
        description=f"Items per page (default {DEFAULT_LIMIT}), clamped to 1..{MAX_LIMIT}; "
        "the server may return fewer: follow next_cursor."
    ),
]
DateFrom = Annotated[
    str | None, Field(description="First date included, YYYY-MM-DD (inclusive); omit for no lower bound.")
]
DateTo = Annotated[
    str | None, Field(description="Last date included, YYYY-MM-DD (inclusive); omit for no upper bound.")
]
ReportDate = Annotated[str, Field(description="The report date, YYYY-MM-DD (lines dated up to it, inclusive).")]


class SourceError(ToolError):
    """An anticipated failure: the client gets ``is_error`` with this message."""


# --------------------------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Column:
    name: str
    doc: str
    required: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One CSV file under the data root and the canonical table served from it.

    Items carry exactly the canonical table's columns (connectors/records.py, from canonical.sql), in
    its order (missing ones as null, extra file columns dropped); ``docs`` says what the tool
    description tells of each column, keyed by name: every column has one, and no other key (a
    ValueError at import otherwise). A column is required (no "may be null") when canonical.sql
    declares it NOT NULL. ``date_column`` orders the table and is the column ``date_from``/``date_to``
    filter on. ``timestamp_columns`` are normalised to UTC for ``*_since`` filters. A missing
    ``optional`` file is an empty table.
    """

    name: str
    path: str
    table: str
    docs: Mapping[str, str] = field(hash=False)
    date_column: str | None = None
    timestamp_columns: tuple[str, ...] = ()
    optional: bool = False
    columns: tuple[Column, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.table not in TABLES:
            raise ValueError(f"{self.path}: {self.table!r} is not a canonical table (known: {sorted(TABLES)})")
        canonical = TABLES[self.table]
        names = [c.name for c in canonical]
        missing, extra = [n for n in names if n not in self.docs], [n for n in self.docs if n not in names]
        if missing or extra:
            raise ValueError(
                f"{self.path}: the column docs of {self.table} must name exactly its columns "
                f"(missing: {missing}, not columns: {extra})"
            )
        object.__setattr__(self, "columns", tuple(Column(c.name, self.docs[c.name], c.required) for c in canonical))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


MONEY = 'decimal string, exact (e.g. "1234.50")'
DATE = "date string YYYY-MM-DD"

PAGE_SHAPE = (
    'Returns compact JSON text: {"items": [...], "next_cursor": string|null, "total": int, "as_of": string}. '
    "total counts every item matching the filter; as_of is the ISO-8601 UTC time of the answer. "
    "A page may hold fewer items than limit: call again with cursor=next_cursor until it is null. "
    "Pages of one pull come from one snapshot of the data."
)


def page_description(summary: str, spec: TableSpec, filters: str = "") -> str:
    lines = [summary.strip()]
    if filters:
        lines.append(filters.strip())
    lines.append(PAGE_SHAPE)
    lines.append(
        f"Each item ({spec.name}) has exactly these keys; every value is a JSON string or null "
        "(money as exact decimal strings, never numbers):"
    )
    for col in spec.columns:
        lines.append(f"- {col.name}: {col.doc}{'' if col.required else ', may be null'}")
    return "\n".join(lines)
