"""`closeboard connectors check`: what each configured server offers, against what closeboard needs.

For every source: connect, list the server's tools, mark the allow-listed ones, warn about an
allow-listed tool that the server does not annotate read-only or that the adapter never calls, and
show how many records each canonical table would receive (the first page's total, read with a
page of one item where the tool pages by cursor). A required tool (one a stream reads) that the
server does not offer, or that is not allow-listed, is an error; so is a server that cannot be reached.

With a data home it also holds the allow-listed tools against the approved ones
(connectors/pinning.py): each is `approved`, `changed` (with a diff), `vanished`, `new` (not approved:
never called) or `not yet approved` (before the first connection). A changed or vanished approved
tool is an error; `accept=True` records the offered definitions as the approved ones. The check
writes nothing else, and it calls only tools that are approved or not yet pinned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import pinning
from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import Config, ConnectorConfig


@dataclass
class ToolLine:
    name: str
    allowed: bool
    read_only: bool | None  # the server's read_only_hint, None when it gives none
    used: bool
    pin: str | None = None  # approved | changed | new | not yet approved (allow-listed tools, with a home)


@dataclass
class SourceCheck:
    source: str
    adapter: str
    tools: list[ToolLine] = field(default_factory=list)
    counts: dict[str, int | None] = field(default_factory=dict)  # table -> total (None: not reported)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes: list[pinning.Change] = field(default_factory=list)  # against the approved tools
    accepted: bool = False  # the offered definitions were recorded as approved (--accept)

    @property
    def ok(self) -> bool:
        return not self.errors


def _pins(connector: ConnectorConfig, home: Path, offered: dict, result: SourceCheck, accept: bool) -> set[str]:
    """Pinning status per allow-listed tool; returns the tools the check may call."""
    try:
        approval = pinning.load(home, connector.name)
    except ValueError as exc:
        approval = None
        if not accept:
            result.errors.append(str(exc))
            return set()
    if approval is not None:
        result.changes = pinning.compare(approval, offered, connector.allow_tools)
    if accept:
        before = {c.tool: c.kind for c in result.changes}
        pinning.record(home, connector.name, pinning.wanted(offered, connector.allow_tools), how="accepted")
        result.accepted = True
        for line in result.tools:
            if line.allowed:
                line.pin = f"approved ({before[line.name]} accepted)" if line.name in before else "approved"
        return set(connector.allow_tools)
    status = {c.tool: c.kind for c in result.changes}
    for line in result.tools:
        if line.allowed:
            line.pin = "not yet approved" if approval is None else status.get(line.name, "approved")
    hint = pinning.ACCEPT_HINT.format(source=connector.name)
    for change in result.changes:
        if change.kind == "new":
            result.warnings.append(
                f"allow-listed tool {change.tool!r} is not approved: it is never called until `{hint}`"
            )
        else:
            result.errors.append(f"approved tool {change.tool!r} {change.kind}: a refresh fails until `{hint}`")
    if approval is None:
        return set(connector.allow_tools)
    return {name for name in approval.tools if status.get(name) is None}


async def check_source(
    connector: ConnectorConfig, home: Path | None = None, *, accept: bool = False, server: Any = None
) -> SourceCheck:
    """`server`: an in-process server object instead of the configured transport (tests)."""
    adapter = adapter_for(connector)
    result = SourceCheck(connector.name, connector.adapter)
    probe = dataclasses.replace(connector, client=dataclasses.replace(connector.client, page_limit=1, retries=0))
    async with SourceSession(probe, home=home, pinning=False, server=server) as session:
        try:
            tools = await session.list_tools()
        except ConnectorError as exc:
            result.errors.append(str(exc))
            return result
        offered = {t.name: t for t in tools}
        used = adapter.used_tools()
        for tool in sorted(offered):
            annotations = offered[tool].annotations
            hint = getattr(annotations, "read_only_hint", None) if annotations is not None else None
            line = ToolLine(tool, tool in connector.allow_tools, hint, tool in used)
            result.tools.append(line)
            if line.allowed and hint is not True:
                result.warnings.append(f"allow-listed tool {tool!r} is not annotated read-only by the server")
            if line.allowed and not line.used:
                result.warnings.append(f"allow-listed tool {tool!r} is not used by adapter {connector.adapter!r}")
        for tool in connector.allow_tools:
            if tool not in offered:
                result.warnings.append(f"allow-listed tool {tool!r} is not offered by the server")
        streams = adapter.streams()
        for stream in streams:
            if stream.tool not in offered:
                result.errors.append(f"required tool {stream.tool!r} (for {stream.table}) is not offered by the server")
            elif stream.tool not in connector.allow_tools:
                result.errors.append(f"required tool {stream.tool!r} (for {stream.table}) is not in allow_tools")
        callable_tools = (
            _pins(connector, home, offered, result, accept) if home is not None else set(connector.allow_tools)
        )
        if result.errors:
            return result
        # what an adapter calls inside its pages (HubSpot's company lookups) is held to the same set
        session.config = dataclasses.replace(
            session.config, allow_tools=tuple(t for t in connector.allow_tools if t in callable_tools)
        )
        for stream in streams:
            if stream.tool not in callable_tools:  # not approved: never called, not even to count
                result.counts[stream.table] = None
                continue
            try:
                async for page in adapter.pages(session, stream):
                    result.counts[stream.table] = page.total
                    break
            except ConnectorError as exc:
                result.errors.append(str(exc))
    return result


async def check_all(
    config: Config, home: Path | None = None, accept: frozenset[str] = frozenset()
) -> list[SourceCheck]:
    """Check every source; record the offered definitions as approved for the sources in `accept`."""
    results = []
    for connector in config.connectors.values():
        try:
            results.append(await check_source(connector, home, accept=connector.name in accept))
        except ConnectorError as exc:
            results.append(SourceCheck(connector.name, connector.adapter, errors=[str(exc)]))
    return results


def report_lines(results: list[SourceCheck]) -> list[str]:
    lines: list[str] = []
    for r in results:
        lines.append(f"{r.source} ({r.adapter}): {'ok' if r.ok else 'FAILED'}")
        for t in r.tools:
            marks = ["allow-listed" if t.allowed else "-"]
            marks.append({True: "read-only", False: "NOT read-only", None: "no read-only hint"}[t.read_only])
            if t.used:
                marks.append("used")
            if t.pin:
                marks.append(t.pin)
            lines.append(f"  tool {t.name}: {', '.join(marks)}")
        for c in r.changes:
            lines.append(f"  {'accepted' if r.accepted else 'pin'}: {c.line()}")
            lines += [f"    {d}" for d in c.diff]
        if r.accepted:
            lines.append(
                f"  approved tools recorded in {pinning.APPROVED_DIR[0]}/{pinning.APPROVED_DIR[1]}/{r.source}.json"
            )
        for table, total in r.counts.items():
            lines.append(f"  {table}: {'?' if total is None else f'{total:,}'} records")
        lines += [f"  warning: {w}" for w in r.warnings]
        lines += [f"  error: {e}" for e in r.errors]
    return lines
