"""What a bundled server serves: its tables (``TableSpec``: a CSV file and its canonical columns, each
documented), page limits, the tools' argument types and read-only annotations, and ``SourceError``
(an anticipated failure the client gets as ``is_error``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

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
    """One CSV file under the data root and the canonical columns served from it.

    Items carry exactly ``columns`` (missing ones as null, extra file columns dropped). ``date_column``
    orders the table and is the column ``date_from``/``date_to`` filter on. ``timestamp_columns`` are
    normalised to UTC for ``*_since`` filters. A missing ``optional`` file is an empty table.
    """

    name: str
    path: str
    columns: tuple[Column, ...]
    date_column: str | None = None
    timestamp_columns: tuple[str, ...] = ()
    optional: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def S(name: str, doc: str = "string", required: bool = False) -> Column:  # noqa: N802 - terse spec helper
    return Column(name, doc, required)


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
