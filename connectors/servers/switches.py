"""Test switches: ``<data>/_switches.json``, re-read on every call. ``max_page_size`` (int) caps the
items per page; ``fail_after_pages`` (int) makes the process ``os._exit(3)`` on the paged call after
that many paged responses; ``fail_at_offset`` (int) makes every process die when asked for a page at
or past that offset (an outage mid-pagination); ``hidden_entries`` (list of entry_id) hides those
journal lines from the list tools and the ledger summary but not from the ERP's own trial balance."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

SWITCHES_FILE = "_switches.json"

# --------------------------------------------------------------------------------------------- switches

_pages_lock = threading.Lock()
_pages_served = 0  # per process, across every DataSource in it


class Switches:
    """``<data>/_switches.json``, read on every call (it is tiny, and a rewrite of the same size within
    one timestamp tick must still count); a missing or unreadable file means no switches."""

    def __init__(self, path: Path):
        self.path = path

    def get(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            print(f"closeboard server: ignoring {self.path}: {exc}", file=sys.stderr, flush=True)
            return {}
        try:
            value = json.loads(text or "{}")
        except ValueError as exc:
            print(f"closeboard server: ignoring {self.path}: {exc}", file=sys.stderr, flush=True)
            return {}
        return value if isinstance(value, dict) else {}


def int_switch(switches: dict[str, Any], name: str) -> int | None:
    value = switches.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def before_paged_call(switches: dict[str, Any]) -> None:
    fail_after = int_switch(switches, "fail_after_pages")
    if fail_after is not None:
        with _pages_lock:
            served = _pages_served
        if served >= fail_after:
            print(
                f"closeboard server: fail_after_pages={fail_after} reached, exiting hard",
                file=sys.stderr,
                flush=True,
            )
            os._exit(3)


def die_mid_pagination(switches: dict[str, Any], offset: int) -> None:
    """``fail_at_offset``: every process dies when asked for a page at or past this offset, so a
    pull breaks mid-pagination however often the client reconnects (a persistent outage)."""
    fail_at = int_switch(switches, "fail_at_offset")
    if fail_at is not None and offset >= fail_at > 0:
        print(f"closeboard server: fail_at_offset={fail_at} reached, exiting hard", file=sys.stderr, flush=True)
        os._exit(3)


def after_paged_call() -> None:
    global _pages_served
    with _pages_lock:
        _pages_served += 1


def hidden_entries(switches: dict[str, Any]) -> set[str]:
    value = switches.get("hidden_entries")
    return {str(v) for v in value} if isinstance(value, list) else set()


def hide_entries(rows: pa.Table, hidden: set[str]) -> pa.Table:
    """Test switch ``hidden_entries`` ([entry_id, ...]): journal lines the list tools and the ledger
    summary do not serve (a journal outside the token's scope), while the ERP's own trial balance
    still counts them (R7 must catch it)."""
    if not hidden or "entry_id" not in rows.column_names:
        return rows
    keep = pc.invert(pc.is_in(rows["entry_id"], value_set=pa.array(sorted(hidden), pa.string())))
    return rows.filter(pc.fill_null(keep, True))
