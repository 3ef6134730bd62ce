"""Pull every table of one source, page by page, into a sink.

Pages are converted to Arrow text batches as they arrive and handed to the sink on a worker
thread while the next page is fetched, so staging overlaps the transport and no source is ever
held whole in memory.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import pyarrow as pa

from connectors.adapters import Adapter, MalformedItem, Stream
from connectors.adapters.base import item_json, non_finite_reason, to_text_batch
from connectors.audit import blank_secrets, scrub
from connectors.client import ConnectorError, SourceSession, ToolNotAllowed
from connectors.periods import windows
from connectors.incremental import (
    Baseline,
    MonthSummary,
    SummaryRow,
    days_to_ask,
    days_to_pull,
    periods_to_pull,
    summary_rows,
)
from connectors.records import KEYS

Sink = Callable[[str, pa.Table], None]


@dataclass
class TablePull:
    """What one tool delivered for one canonical table."""

    table: str
    tool: str
    rows: int = 0
    pages: int = 0
    bytes: int = 0
    reported_total: int | None = None
    as_of: str | None = None
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # set aside: (JSON, reason, tool)
    blanked: list[str] = field(default_factory=list)  # records loaded with a secret the server echoed blanked


@dataclass
class MonthsPulled:
    """A table pulled by months (`MonthSummary`): its summary as read before the rows (by `tool`, as
    of `as_of`), the months pulled (None: all of it) and the column whose month a row belongs to."""

    summary: frozenset[SummaryRow]
    periods: list[str] | None
    period_column: str
    tool: str
    as_of: str | None = None


@dataclass
class SourcePull:
    source: str
    tables: dict[str, TablePull]
    company: dict[str, Any] | None = None
    summary: frozenset[SummaryRow] | None = None  # the ledger summary read before the lines
    replaced_periods: list[str] | None = None  # months ('YYYY-MM') or days of `windowed_table` pulled; None = all
    by_month: dict[str, MonthsPulled] = field(default_factory=dict)  # the other tables pulled by months
    # tables read only from a month on (`Stream.months_from`): the months they replace
    months_read: dict[str, list[str]] = field(default_factory=dict)


async def pull_source(
    session: SourceSession,
    adapter: Adapter,
    sink: Sink,
    baseline: Baseline | None = None,
    month_baselines: Mapping[str, Baseline] | None = None,
) -> SourcePull:
    """Pull every stream of the adapter into `sink`. With a `baseline` and an allow-listed summary
    tool, the windowed table is pulled only for the months `periods_to_pull` names; likewise each
    table of `adapter.month_summaries` whose summary tool is allow-listed, against its baseline in
    `month_baselines` (none: the table is pulled whole, and its summary kept for the next refresh)."""
    try:
        adapter.configure(session.config)
    except ValueError as exc:
        raise ConnectorError(session.name, "(config)", f"adapter {adapter.name!r}: {exc}") from None
    summary = replaced = None
    if adapter.summary_tool and adapter.summary_tool in session.config.allow_tools:
        session.check_allowed(adapter.summary_tool)
        payload = await adapter.ledger_summary(session, whole=baseline is None)
        try:
            summary = summary_rows(payload["items"] if isinstance(payload, dict) else payload)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ConnectorError(session.name, adapter.summary_tool, f"unreadable ledger summary: {exc!r}") from None
        replaced = adapter.periods_to_pull(summary, baseline)
        days = (
            None if replaced is None else await adapter.day_digests(session, days_to_ask(summary, baseline, replaced))
        )
        if replaced is not None and days is not None:  # the months narrowed to the days that changed
            replaced, days = days_to_pull(replaced, days, baseline)
            summary |= days  # kept with the summary: the next refresh compares them
    streams = adapter.streams(windows(replaced)) if replaced is not None else adapter.streams()
    by_month: dict[str, MonthsPulled] = {}
    for months in adapter.month_summaries:
        if months.tool in session.config.allow_tools and any(s.table == months.table for s in streams):
            baseline_of = (month_baselines or {}).get(months.table)
            by_month[months.table] = await _month_summary(session, adapter, months, baseline_of)
    streams = [
        windowed
        for stream in streams
        for windowed in (_by_month(stream, by_month[stream.table].periods) if stream.table in by_month else [stream])
    ]
    months_read = {s.table: p for s in streams if (p := adapter.stream_periods(s)) is not None}
    reads = adapter.read_tools()
    for stream in streams:  # refuse before sending anything
        if stream.tool not in reads:
            raise ToolNotAllowed(
                session.name, stream.tool, f"not declared as a read by adapter {adapter.name!r}; nothing was sent"
            )
        session.check_allowed(stream.tool)
    company = None
    if adapter.company_tool and adapter.company_tool in session.config.allow_tools:
        company, _ = await session.call(adapter.company_tool)
        if session.secret_seen():
            company, _ = blank_secrets(company)
            session.log.notes.append(
                f"the server ({adapter.company_tool}) echoed a secret closeboard holds in the "
                "company record; it was blanked (***)"
            )
    results: dict[str, TablePull] = {}
    for table, months in by_month.items():
        if months.periods == []:  # no month changed: nothing is pulled, nothing replaced
            results[table] = TablePull(table, months.tool, reported_total=0, as_of=months.as_of)
            sink(table, to_text_batch(table, []))

    def stage(stream: Stream, number: int, items: list[Any], screen: bool) -> None:
        if screen:  # the page's text held a secret closeboard expanded: blank it in the records
            items = blank_page(results[stream.table], stream, number, items)
        bad: list[tuple[str, str]] = []
        try:
            mapped = adapter.map_items(stream, items)
        except MalformedItem as exc:
            # an item with a NaN / Infinity value (JSON's NaN literal) is that item's problem, not the
            # page's: it goes to quarantine with its reason and the rest of the page is mapped
            reasons = [non_finite_reason(item) for item in items]
            if not any(reasons):
                raise ConnectorError(session.name, stream.tool, f"page {number}: {exc}") from None
            bad = [
                (item_json(item), f"page {number}: {reason}")
                for item, reason in zip(items, reasons, strict=True)
                if reason
            ]
            try:
                mapped = adapter.map_items(
                    stream, [item for item, reason in zip(items, reasons, strict=True) if not reason]
                )
            except MalformedItem as again:
                raise ConnectorError(session.name, stream.tool, f"page {number}: {again}") from None
        results[stream.table].rejected.extend(
            (record, reason, stream.tool) for record, reason in [*bad, *mapped.rejected]
        )
        sink(stream.table, mapped.batch)

    # One staging thread converts and writes each page while the next one is fetched, at most two
    # pages in flight. (No task group here: the MCP session may open or reopen inside this loop and
    # must close outside it.) The stdio reader wakes many times per page; with the default 5 ms GIL
    # switch interval each wake-up can wait behind the staging thread (measured on 1.14M lines:
    # 12.7 s with 5 ms, 11.2 s with 0.5 ms, 10.5 s for the bare transport), so it is shortened here.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, 0.0005))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"stage-{session.name}") as writer:
        pending: deque[Future[None]] = deque()
        try:
            for stream in streams:  # a windowed table has one stream per window: totals add up
                pull = results.setdefault(stream.table, TablePull(stream.table, stream.tool))
                if stream.tool not in pull.tool.split(", "):  # a table fed by two tools names both
                    pull.tool = f"{pull.tool}, {stream.tool}"
                stream_total = None
                screen = session.secret_seen()  # from here on, this stream's pages are screened on a hit
                async for page in adapter.pages(session, stream):
                    screen = session.secret_seen() or screen
                    pull.rows += len(page.items)
                    pull.pages += 1
                    pull.bytes += page.nbytes
                    stream_total = page.total if page.total is not None else stream_total
                    pull.as_of = page.as_of or pull.as_of
                    pending.append(writer.submit(stage, stream, page.number, page.items, screen))
                    while len(pending) > 2:
                        await anyio.to_thread.run_sync(pending.popleft().result)
                if stream_total is not None:
                    pull.reported_total = (pull.reported_total or 0) + stream_total
            while pending:
                await anyio.to_thread.run_sync(pending.popleft().result)
        finally:
            for future in pending:
                future.cancel()
            sys.setswitchinterval(switch_interval)
    for pull in results.values():
        if pull.blanked:  # a finding: where, never what
            shown = ", ".join(pull.blanked[:5]) + (
                f" and {len(pull.blanked) - 5:,} more" if len(pull.blanked) > 5 else ""
            )
            session.log.notes.append(
                f"{pull.table}: the server ({pull.tool}) echoed a secret closeboard holds in {len(pull.blanked):,} "
                f"record(s); it was blanked (***) before loading: {shown}"
            )
    return SourcePull(session.name, results, company, summary, replaced, by_month, months_read)


async def _month_summary(
    session: SourceSession, adapter: Adapter, months: MonthSummary, baseline: Baseline | None
) -> MonthsPulled:
    """Read one table's month summary and decide which of its months to pull (its as-of is the
    table's freshness when no month is pulled)."""
    session.check_allowed(months.tool)
    payload, _ = await session.call(months.tool, dict(months.arguments))
    try:
        envelope = adapter.envelope(Stream(months.table, months.tool), payload)
        summary = months.rows(envelope.items)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ConnectorError(session.name, months.tool, f"unreadable summary of {months.table}: {exc!r}") from None
    periods = periods_to_pull(summary, baseline)
    if periods and not months.windowed:
        periods = None  # its list tool cannot pull a month alone
    return MonthsPulled(summary, periods, months.period_column, months.tool, envelope.as_of)


def _by_month(stream: Stream, periods: list[str] | None) -> list[Stream]:
    """The stream whole (periods None), or one stream per run of consecutive months."""
    if periods is None:
        return [stream]
    return [replace(stream, arguments={**stream.arguments, "date_from": f, "date_to": t}) for f, t in windows(periods)]


def blank_page(pull: TablePull, stream: Stream, number: int, items: list[Any]) -> list[Any]:
    """`items` with every secret closeboard holds blanked; each record touched is named in
    ``pull.blanked`` by its key (or its place in the page)."""
    out = []
    for index, item in enumerate(items):
        blanked, changed = blank_secrets(item)
        if changed:
            keys = [
                f"{k}={blanked[k]}" for k in KEYS.get(stream.table, ()) if isinstance(blanked, dict) and k in blanked
            ]
            pull.blanked.append(scrub(", ".join(keys)) if keys else f"page {number}, item {index + 1}")
        out.append(blanked)
    return out
