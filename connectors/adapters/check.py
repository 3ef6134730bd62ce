"""`closeboard connectors check`: what each configured server offers, against what closeboard needs.

For every source: connect, list the server's tools, mark the allow-listed ones, warn about an
allow-listed tool that the server does not annotate read-only or that the adapter never calls, and
show how many records each canonical table would receive (the first page's total, read with a
page of one item where the tool pages by cursor). A required tool (one a stream reads) that the
server does not offer, or that is not allow-listed, is an error; so is a server that cannot be reached.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from connectors.adapters import adapter_for
from connectors.client import ConnectorError, SourceSession
from connectors.config import Config, ConnectorConfig


@dataclass
class ToolLine:
    name: str
    allowed: bool
    read_only: bool | None  # the server's read_only_hint, None when it gives none
    used: bool


@dataclass
class SourceCheck:
    source: str
    adapter: str
    tools: list[ToolLine] = field(default_factory=list)
    counts: dict[str, int | None] = field(default_factory=dict)  # table -> total (None: not reported)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


async def check_source(connector: ConnectorConfig, home: Path | None = None) -> SourceCheck:
    adapter = adapter_for(connector)
    result = SourceCheck(connector.name, connector.adapter)
    probe = dataclasses.replace(connector, client=dataclasses.replace(connector.client, page_limit=1, retries=0))
    async with SourceSession(probe, home=home) as session:
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
        if result.errors:
            return result
        for stream in streams:
            try:
                async for page in adapter.pages(session, stream):
                    result.counts[stream.table] = page.total
                    break
            except ConnectorError as exc:
                result.errors.append(str(exc))
    return result


async def check_all(config: Config, home: Path | None = None) -> list[SourceCheck]:
    results = []
    for connector in config.connectors.values():
        try:
            results.append(await check_source(connector, home))
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
            lines.append(f"  tool {t.name}: {', '.join(marks)}")
        for table, total in r.counts.items():
            lines.append(f"  {table}: {'?' if total is None else f'{total:,}'} records")
        lines += [f"  warning: {w}" for w in r.warnings]
        lines += [f"  error: {e}" for e in r.errors]
    return lines
