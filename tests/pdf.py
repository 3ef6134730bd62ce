"""The month pack as PDF (`closeboard export --pdf`, the PDF archived at a close): its text read back
with pdftotext (Debian's poppler-utils) and held to the warehouse's statements, to the cent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from reports.formatting import money
from tests.conftest import read

COMPANY = "Demo Co"  # the demo company's name, on every page of its pack


def pdf_text(path: Path) -> str:
    """The PDF's text, its layout kept, pages separated by form feeds."""
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def statement_lines(home: Path, period: str) -> list[tuple]:
    """mart_statements' lines of `period` (statement, rollup, line_id, kind, amount, prior_month,
    prior_year, ytd) in the order the pack prints them."""
    return read(
        home,
        "select statement, rollup, line_id, kind, amount, prior_month, prior_year, ytd "
        "from mart_statements where period = ? order by statement, rollup, line_order",
        [period],
    )


def assert_pack_pdf(text: str, home: Path, period: str, version: int, status: str) -> None:
    """Every page of the pack names it and is numbered, no page control is printed, and every figure
    of the statements by account is there as the page formats it."""
    pages = [p for p in text.split("\f") if p.strip()]
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):  # every page names the pack and is numbered
        assert f"{COMPANY} · {period} · snapshot v{version} {status}" in page, f"page {number}:\n{page[:400]}"
        assert re.search(r"data as of .*erp \d{4}-\d{2}-\d{2}", page), f"page {number}"
        assert f"page {number} of {len(pages)}" in page, f"page {number}"
    for hidden in ("Reload data", f"{period} — ", "To refresh these figures"):  # no controls on paper
        assert hidden not in text
    # the statements' figures, exactly as the page formats them (by account, the page's default rollup)
    shown = [row for row in statement_lines(home, period) if row[1] == "account" and row[3] != "heading"]
    assert shown
    for statement, _, line_id, _, *figures in shown:
        for value in figures:
            if value is not None:
                assert money(value, "USD", cents=True) in text, (statement, line_id, value)
