"""The adapter contract: paging chosen per stream, text decoders, "Error:" text, refused tools."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import pyarrow as pa
import pytest

from connectors.adapters.base import Adapter, Stream
from connectors.adapters.paging import Envelope, OffsetPaging, PageNumberPaging
from connectors.adapters.text import key_value_blocks, python_repr, result_text
from connectors.client import CallLog, ConnectorError, SourceSession, ToolNotAllowed
from connectors.config import ClientSettings, ConnectorConfig, ServerConfig
from connectors.pull import pull_source
from connectors.servers.hosting import new_server

ACCOUNTS = [{"Code": f"{4000 + i}", "Name": f"Account {i}", "Type": "REVENUE"} for i in range(23)]


def fake_server() -> Any:
    server = new_server("fake", title="fake", instructions="test")

    @server.tool(structured_output=False)
    def accounts_by_page(page: int = 1) -> str:  # Xero style: fixed pages of 10, "Key: Value" blocks
        chunk = ACCOUNTS[(page - 1) * 10 : page * 10]
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in a.items()) for a in chunk)

    @server.tool(structured_output=False)
    def accounts_by_offset(offset: int = 0, limit: int = 5) -> str:  # Odoo style: limit/offset and a total
        import json

        return json.dumps({"records": ACCOUNTS[offset : offset + limit], "length": len(ACCOUNTS)})

    @server.tool(structured_output=False)
    def broken() -> str:
        return "Error: the API token has expired"

    @server.tool(structured_output=False)
    def delete_everything() -> str:
        raise AssertionError("never called")

    return server


class KeyValueAdapter(Adapter):
    name = "test.kv"
    default_tools = ("accounts_by_page", "accounts_by_offset", "broken")

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def streams(self) -> list[Stream]:
        return [self.stream]

    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        text = result_text(result, limit_bytes=limit_bytes) if result.content else ""
        if stream is not None and stream.tool == "accounts_by_offset":
            import json

            return json.loads(text), len(text)
        return key_value_blocks(text), len(text)

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        if isinstance(payload, dict):
            return Envelope(payload["records"], total=payload["length"])
        return Envelope(payload)

    def to_batch(self, stream: Stream, items: Any) -> pa.Table:
        rows = [{"account_id": a["Code"], "name": a["Name"], "type": a["Type"].lower()} for a in items]
        return super().to_batch(stream, rows)


def pull(
    stream: Stream, allow: tuple[str, ...] = KeyValueAdapter.default_tools
) -> tuple[list[dict[str, Any]], CallLog]:
    config = ConnectorConfig(
        "erp", "test.kv", ServerConfig(command="python"), allow, ClientSettings(call_timeout_s=20, retries=0)
    )
    log, rows = CallLog(), []

    async def go() -> None:
        async with SourceSession(config, log=log, server=fake_server()) as session:
            await pull_source(session, KeyValueAdapter(stream), lambda t, b: rows.extend(b.to_pylist()))

    anyio.run(go)
    return rows, log


def test_page_number_paging_stops_at_the_short_page() -> None:
    rows, log = pull(Stream("erp_accounts", "accounts_by_page", paging=PageNumberPaging(page_size=10)))
    assert [r["account_id"] for r in rows] == [a["Code"] for a in ACCOUNTS]
    assert [r.arguments for r in log.records] == ['{"page":1}', '{"page":2}', '{"page":3}']


def test_offset_paging_stops_at_the_total() -> None:
    rows, log = pull(Stream("erp_accounts", "accounts_by_offset", paging=OffsetPaging(limit=5)))
    assert [r["name"] for r in rows] == [a["Name"] for a in ACCOUNTS]
    assert len(log.records) == 5  # 5+5+5+5+3: the fifth page reaches the total


def test_error_text_without_is_error_fails_the_source() -> None:
    with pytest.raises(ConnectorError, match="the server reported an error: Error: the API token has expired"):
        pull(Stream("erp_accounts", "broken", paged=False))


def test_a_stream_on_an_undeclared_tool_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ToolNotAllowed, match="not declared as a read"):
        pull(Stream("erp_accounts", "delete_everything", paged=False), allow=("delete_everything",))


def test_python_repr_keeps_float_digits_and_refuses_code() -> None:
    assert python_repr("[{'a': 0.285, 'b': None, 'c': \"O'Brien\", 'd': 12}]") == [
        {"a": Decimal("0.285"), "b": None, "c": "O'Brien", "d": 12}
    ]
    with pytest.raises(ValueError, match="not a Python literal"):
        python_repr("__import__('os').system('true')")
