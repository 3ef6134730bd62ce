"""Exports (issue 20): `closeboard export --period P [--version N] --pdf FILE --xlsx FILE` and the closed
version's PDF archived beside its page after a sign-off.

One copy of the session's demo home, the CLI's commands run in this process (click's runner): a month
is closed (its PDF archived by Debian's Chromium), a second is closed with no Chromium (the close
stands and says the PDF was not archived); the PDF's text
(pdftotext, Debian's poppler-utils) and the workbook read back with openpyxl are held to the
warehouse's figures, to the cent."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from pipelines.cli import main
from tests.conftest import cli_in_process, copy_home, read
from tests.pdf import COMPANY, assert_pack_pdf, pdf_text, statement_lines

pytestmark = pytest.mark.slow  # Chromium prints, pdftotext reads

PERIOD = "2026-04"  # closed with Chromium: its PDF is archived
NO_CHROMIUM = "2026-03"  # closed with $CLOSEBOARD_CHROMIUM naming nothing: no PDF, the close stands
SIGNER = "Ada Lovelace"
CENT = Decimal("0.01")


@dataclass
class Closed:
    home: Path
    close_output: str
    no_chromium: subprocess.CompletedProcess[str]
    version: int
    page_path: str


@pytest.fixture(scope="module")
def closed(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Closed:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install -y poppler-utils (.ci/run does it)")
    home = tmp_path_factory.mktemp("export") / "home"
    copy_home(demo_home, home)
    out = cli_in_process("close", PERIOD, "--by", SIGNER, home=home)
    no_chromium = cli_in_process(
        "close",
        NO_CHROMIUM,
        "--by",
        SIGNER,
        home=home,
        check=False,
        env={"CLOSEBOARD_CHROMIUM": str(home / "no-such-chromium")},
    )
    ((version, page_path),) = read(
        home, "select version, page_path from close_snapshots where period = ? and status = 'closed'", [PERIOD]
    )
    return Closed(home, out.stdout, no_chromium, version, page_path)


def test_a_close_archives_the_closed_versions_pdf_beside_its_page(closed: Closed) -> None:
    pdf = (closed.home / "reports" / closed.page_path).with_suffix(".pdf")
    assert f"PDF archived: {pdf}" in closed.close_output
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    assert_pack_pdf(pdf_text(pdf), closed.home, PERIOD, closed.version, "closed")
    assert not list(pdf.parent.glob(".*.tmp"))


def test_a_close_without_chromium_stands_and_says_the_pdf_was_not_archived(closed: Closed) -> None:
    assert closed.no_chromium.returncode == 0, closed.no_chromium.stderr
    assert f"✓ {NO_CHROMIUM} closed by {SIGNER}" in closed.no_chromium.stdout
    assert "PDF not archived" in closed.no_chromium.stdout and "no Chromium at" in closed.no_chromium.stdout
    ((page_path,),) = read(
        closed.home, "select page_path from close_snapshots where period = ? and status = 'closed'", [NO_CHROMIUM]
    )
    assert (closed.home / "reports" / page_path).exists()
    assert not (closed.home / "reports" / page_path).with_suffix(".pdf").exists()


def test_export_writes_the_pdf_and_a_workbook_of_numbers_equal_to_the_warehouse(closed: Closed, tmp_path: Path) -> None:
    pdf, xlsx = tmp_path / "pack.pdf", tmp_path / "pack.xlsx"
    out = cli_in_process("export", "--period", PERIOD, "--pdf", str(pdf), "--xlsx", str(xlsx), home=closed.home)
    assert f"{PERIOD} v{closed.version} closed" in out.stdout
    assert_pack_pdf(pdf_text(pdf), closed.home, PERIOD, closed.version, "closed")

    book = load_workbook(xlsx)
    assert book.sheetnames == [
        "Cover",
        "Income statement",
        "Balance sheet",
        "Cash flow",
        "KPIs",
        "Open invoices",
        "Open bills",
    ]
    cover = {row[0].value: row[1].value for row in book["Cover"].iter_rows(max_row=12)}
    ((fingerprint, checks),) = read(
        closed.home,
        "select source_fingerprint, checks from close_snapshots where period = ? and version = ?",
        [PERIOD, closed.version],
    )
    assert (cover["Company"], cover["Period"], cover["Snapshot version"], cover["Status"], cover["Fingerprint"]) == (
        COMPANY,
        PERIOD,
        closed.version,
        "closed",
        fingerprint,
    )
    assert cover["Signed off by"] == SIGNER and cover["Data as of"].startswith("bank ")
    verdicts = {(row[0].value, row[1].value) for row in book["Cover"].iter_rows(min_row=14) if row[1].value}
    assert ("R1 trial balance", "pass") in verdicts and ("R3 AR subledger vs control", "pass") in verdicts

    for sheet, statement in (
        ("Income statement", "income_statement"),
        ("Balance sheet", "balance_sheet"),
        ("Cash flow", "cash_flow"),
    ):
        expected = [row for row in statement_lines(closed.home, PERIOD) if row[0] == statement]
        rows, rollup = {}, None
        for row in book[sheet].iter_rows(min_row=4):
            title = row[0].value or ""
            if row[1].value is None:  # a rollup's title row: "Income statement by account"
                rollup = (
                    "account" if title.endswith("by account") else "subtype" if title.endswith("subtype") else rollup
                )
                continue
            rows[(rollup, row[1].value)] = row
        assert len(rows) == len(expected), sheet
        for _, rollup, line_id, kind, *figures in expected:
            row = rows[(rollup, line_id)]
            assert row[2].value == kind
            for cell, value in zip(row[3:7], figures, strict=True):
                if value is None or kind == "heading":
                    assert cell.value is None, (sheet, line_id)
                else:  # a number, never text, equal to the cent, in the money format
                    assert cell.data_type == "n" and not isinstance(cell.value, str), (sheet, line_id, cell.value)
                    assert Decimal(str(cell.value)).quantize(CENT) == value, (sheet, line_id)
                    assert cell.number_format == "#,##0.00;[Red]-#,##0.00"

    kpis = {row[0].value: row[2] for row in book["KPIs"].iter_rows(min_row=4)}
    warehouse = dict(read(closed.home, "select kpi, value from mart_kpis where period = ?", [PERIOD]))
    assert set(kpis) == set(warehouse)
    for kpi, value in warehouse.items():
        if value is not None:
            assert kpis[kpi].data_type == "n" and Decimal(str(kpis[kpi].value)).quantize(CENT) == value, kpi

    for sheet, kind in (("Open invoices", "ar"), ("Open bills", "ap")):
        rows = [row for row in book[sheet].iter_rows(min_row=4) if row[0].value]
        assert rows, sheet
        for row in rows:
            assert row[7].data_type == "n" and row[5].data_type == "n"
        total = sum(Decimal(str(row[7].value)) for row in rows).quantize(CENT)
        balance = read(
            closed.home,
            f"select sum(balance) from mart_balance_sheet b join erp_accounts a "
            f"using (account_id) where b.period = ? and a.subtype = '{kind}'",
            [PERIOD],
        )[0][0]
        assert total == balance, sheet  # R3/R4 pass: the open documents are the control balance, to the cent


def test_an_earlier_version_exports_with_its_own_status(closed: Closed, tmp_path: Path) -> None:
    xlsx = tmp_path / "v1.xlsx"
    result = CliRunner().invoke(
        main, ["--home", str(closed.home), "export", "--period", PERIOD, "--version", "1", "--xlsx", str(xlsx)]
    )
    assert result.exit_code == 0, result.output
    cover = {row[0].value: row[1].value for row in load_workbook(xlsx)["Cover"].iter_rows(max_row=12)}
    assert (cover["Snapshot version"], cover["Status"], cover["Signed off by"]) == (1, "draft", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--period", "2031-01"],
            "2031-01: no close snapshot of this period (periods with snapshots: 2024-06 to 2026-05)",
        ),
        (["--period", PERIOD, "--version", "9"], f"{PERIOD} has no version 9 (versions: v1 draft, v2 closed)"),
        (["--period", "2026-13"], "'2026-13' is not a period: YYYY-MM"),
    ],
)
def test_an_unknown_period_or_version_is_a_clear_error(
    closed: Closed, tmp_path: Path, args: list[str], message: str
) -> None:
    target = tmp_path / "pack.xlsx"
    result = CliRunner().invoke(main, ["--home", str(closed.home), "export", *args, "--xlsx", str(target)])
    assert result.exit_code == 1
    assert message in result.output
    assert not target.exists()


def test_export_needs_a_file_to_write(closed: Closed) -> None:
    result = CliRunner().invoke(main, ["--home", str(closed.home), "export", "--period", PERIOD])
    assert result.exit_code == 2 and "--pdf FILE" in result.output


def test_a_superseded_versions_workbook_holds_the_figures_it_kept(closed: Closed, tmp_path: Path) -> None:
    """A version restated since: its own income statement and balance sheet by account from the
    snapshot, not the warehouse's statements (which no longer have its fingerprint)."""
    from dataclasses import replace

    from reports.export import resolve, write_xlsx
    from warehouse.home import Home

    home = Home(closed.home)
    pack = replace(resolve(home, PERIOD, 1), current=False)
    book = load_workbook(write_xlsx(home, pack, tmp_path / "old.xlsx"))
    kept = {r["account_id"]: Decimal(r["amount"]) for r in pack.snapshot.statements["pnl"]}
    rows = [row for row in book["Income statement"].iter_rows(min_row=4) if row[0].value]
    assert len(rows) == len(kept) > 0
    for row in rows:
        assert row[4].data_type == "n" and Decimal(str(row[4].value)).quantize(CENT) == kept[row[0].value]
    balances = {r["account_id"]: Decimal(r["balance"]) for r in pack.snapshot.statements["balance_sheet"]}
    rows = [row for row in book["Balance sheet"].iter_rows(min_row=4) if row[0].value]
    assert {row[0].value: Decimal(str(row[3].value)).quantize(CENT) for row in rows} == balances
    assert "keeps no cash-flow statement" in book["Cash flow"]["A1"].value
