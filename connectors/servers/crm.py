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
TOOL_NAMES = ("list_opportunities", "get_opportunity_summary")

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
    # the summary a refresh asks first, computed as the server starts
    tools = add_crm_tools(server, src, "Sales opportunities, open and closed.")
    return warm_up(tools, src.load_all, lambda: opportunity_summary(src))


def opportunity_summary(src: DataSource) -> str:
    """get_opportunity_summary's answer: per month of close_date, the opportunities' count, Σamount
    and digest (store.DataSource.month_summary)."""
    return src.month_summary(Query("opportunities"), ("amount",), month_column="close_date")


def add_crm_tools(server: MCPServer, src: DataSource, summary: str) -> MCPServer:
    """`list_opportunities` and `get_opportunity_summary` over a `DataSource`: the bundled CRM server
    and the CSV-export server (crmcsv) serve exactly the same contract."""

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

    @server.tool(
        title="Opportunity summary",
        description="One row per month of close_date over the opportunities, in a single call, so a client "
        "can tell whether any opportunity changed without pulling them (list_opportunities has no date "
        "window: a client pulls them all again when any month changed). Returns compact JSON text "
        '{"items": [...], "next_cursor": null, "total": int (number of items), "as_of": ISO-8601 UTC time}. '
        'Each item: {"period": "YYYY-MM" (null for opportunities without a valid close_date), "count": int, '
        '"amount": exact decimal string (the sum; values that are not decimal numbers are left out), '
        '"digest": 16 hex digits, a hash of every served field of every opportunity of the month '
        "(independent of their order; it changes when any of them changes)}, ordered by period.",
        annotations=READ_ONLY,
        structured_output=False,
    )
    def get_opportunity_summary() -> str:
        return opportunity_summary(src)

    return server


def main(argv: Sequence[str] | None = None) -> None:
    serve(build_server, sys.argv[1:] if argv is None else argv, prog="python -m connectors.servers.crm", cache=True)


if __name__ == "__main__":
    main()
