"""Approved tools: what a person agreed closeboard may call on each source, pinned by content.

At the first connection of a source (trust on first use) closeboard records the tools it may call —
the adapter's reads that `allow_tools` names and the server offers — each with the SHA-256 of its
definition (name, description, inputSchema and outputSchema as canonical JSON). Every later session
lists the server's tools once after `initialize` and compares: a changed or vanished approved tool
fails the source until a person reviews the difference and runs
`closeboard connectors check --accept SOURCE`; a tool outside the approved set is never sent.

The approvals live in one JSON file per source, ``<home>/connectors/approved/<source>.json``,
written atomically (not in DuckDB: a small text file is easy to review, diff and keep in version
control, and a warehouse restored from backup cannot silently re-approve a tool). It holds each
approved tool's digest and its definition, so a later change can be shown as a diff.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from connectors.plain import write_atomic

APPROVED_DIR = ("connectors", "approved")
ACCEPT_HINT = "closeboard connectors check --accept {source}"


def definition(tool: Any) -> dict[str, Any]:
    """The parts of a tool definition that are pinned (an mcp Tool object or a mapping)."""
    if isinstance(tool, Mapping):
        get = tool.get
        return {
            "name": get("name"),
            "description": get("description"),
            "inputSchema": get("inputSchema", get("input_schema")),
            "outputSchema": get("outputSchema", get("output_schema")),
        }
    return {
        "name": tool.name,
        "description": getattr(tool, "description", None),
        "inputSchema": getattr(tool, "input_schema", None),
        "outputSchema": getattr(tool, "output_schema", None),
    }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(tool: Any) -> str:
    """SHA-256 (hex) of the tool's name, description, inputSchema and outputSchema as canonical JSON."""
    return hashlib.sha256(canonical(definition(tool)).encode("utf-8")).hexdigest()


def approved_path(home: Path, source: str) -> Path:
    return Path(home).joinpath(*APPROVED_DIR, f"{source}.json")


@dataclass(frozen=True)
class Approval:
    source: str
    tools: dict[str, dict[str, Any]]  # name -> {"sha256": ..., "definition": {...}}
    approved_at: str
    how: str  # "first use" | "accepted"


def load(home: Path, source: str) -> Approval | None:
    """The source's approval file, or None before its first connection. A damaged file is an error
    (never a silent re-approval)."""
    path = approved_path(home, source)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        tools = raw["tools"]
        if not isinstance(tools, dict) or not all(isinstance(v, dict) and "sha256" in v for v in tools.values()):
            raise ValueError("`tools` is not {name: {sha256, definition}}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{path} is unreadable ({exc}); run `{ACCEPT_HINT.format(source=source)}` "
            "to record the approved tools again"
        ) from None
    return Approval(source, tools, str(raw.get("approved_at")), str(raw.get("how")))


def record(home: Path, source: str, tools: Iterable[Any], *, how: str) -> Approval:
    """Approve exactly `tools` (mcp Tool objects) for `source`; the file is replaced atomically."""
    entries = {}
    for tool in sorted(tools, key=lambda t: definition(t)["name"]):
        d = definition(tool)
        entries[d["name"]] = {"sha256": digest(tool), "definition": json.loads(canonical(d))}
    approval = Approval(source, entries, datetime.now(timezone.utc).isoformat(timespec="seconds"), how)
    text = (
        json.dumps(
            {"source": source, "approved_at": approval.approved_at, "how": how, "tools": entries},
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        )
        + "\n"
    )
    write_atomic(approved_path(home, source), text)
    return approval


def wanted(offered: Mapping[str, Any], allow_tools: Iterable[str]) -> list[Any]:
    """The tools to approve: the allow-listed ones (config load already limits `allow_tools` to the
    adapter's reads) that the server offers."""
    return [offered[name] for name in allow_tools if name in offered]


@dataclass(frozen=True)
class Change:
    tool: str
    kind: str  # "changed" | "vanished" | "new" (allow-listed and offered, not approved)
    old: str | None  # sha256
    new: str | None
    diff: tuple[str, ...] = ()

    def line(self) -> str:
        short = lambda h: h[:12] if h else "-"  # noqa: E731
        return f"tool {self.tool}: {self.kind} ({short(self.old)} -> {short(self.new)})"


def compare(
    approval: Approval, offered: Mapping[str, Any], allow_tools: Iterable[str], *, diff_lines: int = 40
) -> list[Change]:
    """Every difference between the approved tools and what the server offers now."""
    changes: list[Change] = []
    for name, entry in sorted(approval.tools.items()):
        tool = offered.get(name)
        if tool is None:
            changes.append(Change(name, "vanished", entry["sha256"], None))
            continue
        now = digest(tool)
        if now != entry["sha256"]:
            changes.append(
                Change(
                    name,
                    "changed",
                    entry["sha256"],
                    now,
                    tuple(definition_diff(entry.get("definition") or {}, definition(tool))[:diff_lines]),
                )
            )
    for name in allow_tools:
        if name in offered and name not in approval.tools:
            changes.append(Change(name, "new", None, digest(offered[name])))
    return changes


def definition_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """A short unified diff of two definitions (description and schemas, pretty-printed JSON)."""

    def lines(d: Mapping[str, Any]) -> list[str]:
        out: list[str] = []
        for key in ("description", "inputSchema", "outputSchema"):
            value = d.get(key)
            text = value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False)
            out += [f"{key}: {line}" for line in (text or "null").splitlines()]
        return out

    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(lines(old), lines(new), "approved", "offered", n=1, lineterm="")
    ]


def failure_message(source: str, changes: list[Change]) -> str:
    parts = [
        f"{c.tool!r} {'was removed by the server' if c.kind == 'vanished' else 'changed its definition'}"
        f" (sha256 {c.old[:12] if c.old else '-'} -> {c.new[:12] if c.new else '-'})"
        for c in changes
        if c.kind in ("changed", "vanished")
    ]
    return (
        f"approved tool {'; '.join(parts)}: nothing was called. Review the difference and run "
        f"`{ACCEPT_HINT.format(source=source)}` to approve the new definition"
    )
