"""What the page tests read on both sides: the warehouse's figures of a home (its readers' copy) and a
table's cells and totals on an open page (Playwright)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from tests.conftest import read


def token_of(html: str) -> str:
    """The served page's refresh token (the served app writes it into the page's data)."""
    found = re.search(r'"token":"([^"]+)"', html)
    assert found, "the page carries no refresh token"
    return found.group(1)


def kpis_of(home: Path, period: str) -> dict[str, Decimal | None]:
    return dict(read(home, "select kpi, value from mart_kpis where period = ?", [period]))


def ended_periods(home: Path) -> list[str]:
    return [r[0] for r in read(home, "select period from periods where not is_open order by period")]


def column(page, table: str, name: str) -> list[str]:
    return page.locator(f"#table-{table} tbody td[data-column='{name}']").evaluate_all(
        "cells => cells.map(c => c.getAttribute('data-raw'))"
    )


def total(page, table: str, name: str) -> Decimal:
    return Decimal(page.locator(f"#table-{table} tfoot td[data-column='{name}']").first.get_attribute("data-raw"))
