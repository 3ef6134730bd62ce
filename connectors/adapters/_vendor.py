"""Small helpers the accounting-vendor adapters (xero, quickbooks, odoo) share.

Every value leaves as canonical text: money as the decimal digits the server sent (never through a
float), dates ISO. An item that cannot be mapped raises ``Unmappable`` with the reason; the adapter
puts it in ``Mapped.rejected`` (quarantine).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.adapters.base import Mapped, item_json, to_text_batch


class Unmappable(ValueError):
    """An item this adapter cannot turn into a canonical record; the message is the reason."""


def money(value: Any, what: str) -> Decimal:
    """A decimal amount from text or a number (a float only ever arrives as the Decimal of its
    digits: JSON is parsed with ``parse_float=Decimal``)."""
    if isinstance(value, bool) or value is None or value == "":
        raise Unmappable(f"{what}: no amount ({value!r})")
    if isinstance(value, float):  # defensive: never expected, kept exact to its shortest repr
        value = repr(value)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise Unmappable(f"{what}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise Unmappable(f"{what}: {value!r} is not a finite number")
    return amount


def text(amount: Decimal) -> str:
    """A Decimal as canonical text (no exponent); -0 becomes 0."""
    if amount == 0:
        amount = abs(amount)
    return format(amount, "f")


_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


def iso_date(value: Any, what: str) -> str:
    """``YYYY-MM-DD`` from an ISO date or datetime, or a .NET ``/Date(ms+0000)/`` (Xero's JSON)."""
    if not isinstance(value, str) or not value.strip():
        raise Unmappable(f"{what}: no date ({value!r})")
    raw = value.strip()
    ms = _MS_DATE.match(raw)
    if ms:
        return datetime.fromtimestamp(int(ms.group(1)) / 1000, tz=UTC).date().isoformat()
    try:
        return date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        raise Unmappable(f"{what}: {value!r} is not a date") from None


def optional_date(value: Any, what: str) -> str | None:
    return None if value in (None, "", False) else iso_date(value, what)


def map_each(
    table: str, tool: str, items: Sequence[Any], one: Callable[[Any], list[dict[str, Any]] | dict[str, Any] | None]
) -> Mapped:
    """Map every item with ``one`` (a record, several records, or None to leave the item out: it
    belongs to another table); ``Unmappable`` sets the item aside with its reason. The reason names
    the tool: a table read from several tools is recorded under the first one's name."""
    rows: list[dict[str, Any]] = []
    rejected: list[tuple[str, str]] = []
    for item in items:
        try:
            mapped = one(item)
        except Unmappable as exc:
            rejected.append((item_json(item), f"{table} from {tool}: {exc}"))
            continue
        if mapped is None:
            continue
        rows.extend(mapped if isinstance(mapped, list) else [mapped])
    return Mapped(to_text_batch(table, rows), rejected)
