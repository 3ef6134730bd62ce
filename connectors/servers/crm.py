"""closeboard-crm: sales opportunities, read-only.

Data root: ``crm/opportunities.csv`` (its extra ``updated_at`` column drives ``updated_since`` and is
not served). Run: ``python -m connectors.servers.crm --data DIR [--http PORT]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from connectors.servers.hosting import new_server, serve, warm_up
from connectors.servers.specs import DATE, MONEY, READ_ONLY, Cursor, Limit, TableSpec, page_description
from connectors.servers.store import DataSource, Query, parse_timestamp

OPPORTUNITIES = TableSpec(
    "opportunities",
    "crm/opportunities.csv",
    "crm_opportunities",
    # columns, order and required ones from canonical.sql (connectors/records.py); here their docs
    {
        "opportunity_id": "string, key",
        "customer_id": "the ERP customer_id when known",
        "customer_name": "string",
        "stage": "pipeline stage name",
        "amount": MONEY,
        "currency": "ISO 4217 code",
        "close_date": DATE + " (expected, or actual when closed)",
        "probability": "decimal string, percent 0-100",
        "owner": "string",
        "is_won": '"true" | "false"',
        "is_closed": '"true" | "false"',
    },
    timestamp_columns=("updated_at",),
)
TABLES = (OPPORTUNITIES,)
TOOL_NAMES = ("list_opportunities",)

UpdatedSince = Annotated[
    str | None,
    Field(
        description="Only opportunities changed at or after this ISO-8601 timestamp or date "
        "(naive values are UTC); omit for all."
    ),
]


def build_server(data_dir: Path, cache: Path | None = None) -> MCPServer:
    server = new_server(
        "closeboard-crm",
        title="closeboard CRM (read-only)",
        instructions="Read-only CRM: sales opportunities. Pages with cursor/limit, answers compact JSON text.",
    )
    src = DataSource(data_dir, TABLES, cache)
    return warm_up(add_crm_tools(server, src, "Sales opportunities, open and closed."), src.load_all)


def add_crm_tools(server: MCPServer, src: DataSource, summary: str) -> MCPServer:
    """`list_opportunities` over any source answering `page(Query, cursor, limit)`: the bundled CRM
    server and the CSV-export server (crmcsv) serve exactly the same contract."""

    @server.tool(
        title="Opportunities",
        description=page_description(
            summary,
            OPPORTUNITIES,
            "Filter: updated_since (inclusive) returns only opportunities changed since then.",
        ),
        annotations=READ_ONLY,
        structured_output=False,
    )
    def list_opportunities(updated_since: UpdatedSince = None, cursor: Cursor = None, limit: Limit = 1000) -> str:
        since = parse_timestamp(updated_since, "updated_since")
        query = Query("opportunities", since=(("updated_at", since),) if since else ())
        return src.page(query, cursor, limit)

    return server


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.crm", cache=True)


if __name__ == "__main__":
    main()
