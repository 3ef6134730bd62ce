"""The adapter contract and the text-batch conversion every adapter shares (docs/adapters.md).

An adapter declares
- ``default_tools``: the tools it reads (its default ``allow_tools``); ``read_tools()`` is the set
  a config may allow-list — anything else is refused at config load, so a write tool is never called;
- ``streams()``: per canonical table, the tool, its fixed arguments and its ``paging`` (cursor,
  page number, offset or none; ``paging.py``), or it overrides ``pages`` to page its own way;
- ``decode``: the tool result to a payload (structured content or JSON text by default; Python
  repr or "Key: Value" text with ``text.py``); ``envelope``: a payload to a page's items, cursor,
  total and as-of;
- ``map_items``: a page's items to an Arrow batch of canonical columns, setting aside the items it
  cannot map (``Mapped.rejected``, each with a reason: they go to ``quarantine``). ``MalformedItem``
  fails the page when nothing can be read at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from connectors.adapters.paging import CursorPaging, Envelope, NoPaging, Paging
from connectors.client import Page
from connectors.incremental import Baseline, MonthSummary, SummaryRow, periods_to_pull
from connectors.payloads import parse_payload, parse_total
from connectors.records import CANONICAL, KEYS, text_schema

if TYPE_CHECKING:
    from connectors.client import SourceSession
    from connectors.config import ConnectorConfig


class MalformedItem(ValueError):
    """An item that cannot be read as a record at all (not an object, a nested value...)."""


@dataclass(frozen=True)
class Stream:
    """One canonical table and the tool call that reads it."""

    table: str
    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    paged: bool = True
    paging: Paging | None = None  # None: closeboard's cursor paging when `paged`, else one call
    # read only for the months from this one on ('YYYY-MM'), the table's earlier months kept as loaded
    # (an incremental pull of a report dated by month-end: `Adapter.stream_periods` names the months)
    months_from: str | None = None

    @property
    def pager(self) -> Paging:
        return self.paging or (CursorPaging() if self.paged else NoPaging())


@dataclass
class Mapped:
    """A page mapped to canonical records, and the items set aside with the reason for each."""

    batch: pa.Table
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (item as JSON text, reason)


def item_json(item: Any) -> str:
    """An item as JSON text for the quarantine (Decimals and other values as strings)."""
    return json.dumps(item, default=str, sort_keys=True, ensure_ascii=False)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal) and not value.is_finite():
        raise MalformedItem(f"{value} is not a finite number")
    if isinstance(value, int | Decimal):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    raise MalformedItem(f"a value of type {type(value).__name__} where text or a number was expected")


def _describe_item(table: str, item: Any) -> str:
    if isinstance(item, dict):
        key = ", ".join(f"{k}={item.get(k)!r}" for k in KEYS[table])
        return f"({key})"
    return repr(item)[:80]


def to_text_batch(table: str, items: Sequence[Any]) -> pa.Table:
    """Items (dicts of canonical columns) as an all-text Arrow table; extra keys are dropped."""
    schema = text_schema(table)
    if all(type(item) is dict for item in items):
        try:  # the dicts as one struct array, converted in Arrow: ~3x faster than column by column
            return pa.Table.from_struct_array(pa.array(items, type=pa.struct(list(schema))))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass  # slow path: find the bad value, or convert numbers and booleans to text
    columns = CANONICAL[table]
    rows = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedItem(f"item {index} is not an object: {_describe_item(table, item)}")
        try:
            rows.append({c: _text(item.get(c)) for c in columns})
        except MalformedItem as exc:
            bad = next(c for c in columns if not _is_scalar(item.get(c)))
            raise MalformedItem(f"item {index} {_describe_item(table, item)}, field {bad!r}: {exc}") from None
    return pa.Table.from_pylist(rows, schema=schema)


def _is_scalar(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | bool | Decimal) and not non_finite(value))


def non_finite(value: Any) -> bool:
    """True for NaN or ±Infinity (JSON's NaN / Infinity literals arrive as floats or Decimals)."""
    return (isinstance(value, float) and not math.isfinite(value)) or (
        isinstance(value, Decimal) and not value.is_finite()
    )


def non_finite_reason(item: Any) -> str | None:
    """Why `item` cannot be a record because of a NaN / Infinity value, naming the field; else None."""
    if not isinstance(item, dict):
        return None
    bad = [k for k, v in item.items() if non_finite(v)]
    return f"field {bad[0]!r} is {item[bad[0]]} (not a finite number)" if bad else None


class Adapter:
    """Base adapter: subclasses set `name`, `default_tools` and `streams()`, and may override
    `configure`, `decode`, `envelope`, `pages` and `to_batch` / `map_items` to read a foreign server."""

    name: str = ""
    default_tools: tuple[str, ...] = ()
    company_tool: str | None = None
    options: tuple[str, ...] = ()  # the `options:` keys this adapter reads from its connector config
    # options that are company settings: option -> (CompanyConfig attribute, must equal it when given);
    # config load fills them from `company:` when left out
    company_options: dict[str, tuple[str, bool]] = {}
    # incremental refresh: a tool answering the ledger summary, and the table `streams(windows)` then
    # pulls by windows of months instead of whole (see connectors.incremental)
    summary_tool: str | None = None
    windowed_table: str | None = None
    # other tables pulled by months when their summary tool is allow-listed (documents, bank lines)
    month_summaries: tuple[MonthSummary, ...] = ()

    async def ledger_summary(self, session: SourceSession, *, whole: bool = False) -> Any:
        """The ledger summary (rows of period, account_id, lines, debit, credit): the summary tool's answer.
        `whole`: there is no earlier summary, the table is pulled whole (what is dear to read may wait)."""
        payload, _ = await session.call(self.summary_tool)
        return payload

    def periods_to_pull(self, summary: frozenset[SummaryRow], baseline: Baseline | None) -> list[str] | None:
        """The months of `windowed_table` to pull again (None: all of it)."""
        return periods_to_pull(summary, baseline)

    async def day_digests(self, session: SourceSession, months: list[str] | None) -> frozenset[SummaryRow] | None:
        """The day digest rows (connectors.incremental.DAY_DIGEST) of `months` of `windowed_table` (None:
        of every month), read before its lines, or None when the source gives none (its months are then
        pulled whole)."""
        return None

    def stream_periods(self, stream: Stream) -> list[str] | None:
        """The months a stream read only from `months_from` on replaces ('YYYY-MM'; None: the whole
        table), for a table that is neither `windowed_table` nor among `month_summaries`."""
        return None

    def configure(self, config: ConnectorConfig) -> None:
        """Take the connector's `options`; raise ValueError naming what is wrong with them."""
        unknown = sorted(set(config.options) - set(self.options))
        if unknown:
            raise ValueError(f"unknown options {unknown} (this adapter reads {list(self.options) or 'none'})")

    def read_tools(self) -> frozenset[str]:
        """The tools this adapter declares as reads: the only ones a config may allow-list."""
        return frozenset(self.default_tools)

    def used_tools(self) -> frozenset[str]:
        """The tools a pull actually calls (its streams, the company and the ledger summary tool)."""
        used = {s.tool for s in self.streams()}
        summaries = {s.tool for s in self.month_summaries}
        return frozenset(used | summaries | {t for t in (self.company_tool, self.summary_tool) if t})

    def streams(self) -> list[Stream]:
        raise NotImplementedError

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(s.table for s in self.streams())

    # -- reading a tool's answer ------------------------------------------------------------
    def decode(self, stream: Stream | None, result: Any, *, limit_bytes: int) -> tuple[Any, int]:
        """The result as a payload: structured content, else JSON text (numbers as Decimal)."""
        return parse_payload(result, limit_bytes=limit_bytes)

    def envelope(self, stream: Stream, payload: Any) -> Envelope:
        """A page's items and paging facts: ``{items, next_cursor, total, as_of}`` or a bare list."""
        if isinstance(payload, list):
            return Envelope(payload)
        if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
            raise ValueError("the answer is not {items: [...], next_cursor, total}")
        return Envelope(
            payload["items"],
            payload.get("next_cursor") or None,
            parse_total(payload.get("total")),
            payload.get("as_of"),
        )

    def pages(self, session: SourceSession, stream: Stream) -> AsyncIterator[Page]:
        """Every page of a stream, paged the stream's way."""
        return stream.pager.pages(session, self, stream)

    def map_items(self, stream: Stream, items: Sequence[Any]) -> Mapped:
        """A page as canonical records; the default sets nothing aside."""
        return Mapped(self.to_batch(stream, items))

    def to_batch(self, stream: Stream, items: Sequence[Any]) -> pa.Table:
        missing_all = items and isinstance(items[0], dict) and not any(c in items[0] for c in KEYS[stream.table])
        if missing_all:
            raise MalformedItem(
                f"items carry none of the key columns {list(KEYS[stream.table])} of {stream.table}: "
                f"got keys {sorted(items[0])[:12]}"
            )
        return to_text_batch(stream.table, items)
