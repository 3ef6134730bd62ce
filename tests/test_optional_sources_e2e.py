"""ERP first: bank and CRM are optional sources (DESIGN "Canonical records", issue 13).

Three data homes over the same demo company, each with a closeboard.yaml that configures only some
sources: the ERP alone, the bank alone, the ERP and the bank. Each refreshes, renders its page and
closes a month, in this process (the bundled servers in memory through the real MCP client); the
checks whose inputs are not configured say `not_configured` (neither pass nor fail), and every figure
that comes from the ledger is exact. What `closeboard refresh` prints is the CLI's own
`summary_lines`; `closeboard connectors check` runs as the CLI with stdio servers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.summary import summary_lines
from tests.conftest import AS_OF, FIRST_PERIOD, close_in_process, closeboard, demo_home_at, read, refresh_in_process
from tests.reference import reference_kpis
from warehouse.home import Home

LAST_ENDED = "2026-05"
POINT_IN_TIME_CRM = {"pipeline_open", "bookings_won"}
NEEDS = {
    "R2_bank_vs_book": {"bank", "erp"},
    "R5_bookings_vs_billings": {"crm", "erp"},
    "R1_trial_balance": {"erp"},
    "R3_ar": {"erp"},
    "R4_ap": {"erp"},
}


@pytest.fixture(scope="module", params=[("erp",), ("bank",), ("erp", "bank")], ids="+".join)
def configured(request, demo_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple, str]:
    sources = request.param
    home = demo_home_at(demo_data, tmp_path_factory.mktemp("-".join(sources)), sources=sources)
    refresh_in_process(home)
    return home, sources, "\n".join(line for line, _ in summary_lines(Home(home)))  # what `refresh` prints


def test_refresh_succeeds_and_unconfigured_checks_say_so(configured) -> None:
    home, sources, output = configured
    statuses = dict(read(home, "select check_id, list(distinct status) from recon_results group by check_id"))
    for check_id, needed in NEEDS.items():
        if needed <= set(sources):
            assert "not_configured" not in statuses[check_id], (check_id, statuses[check_id])
        else:
            assert statuses[check_id] == ["not_configured"], (check_id, statuses[check_id])
            detail = read(home, "select any_value(detail) from recon_results where check_id = ?", [check_id])[0][0]
            missing = sorted(needed - set(sources))[0]
            assert f"no {missing}" in detail
    for source in {"erp", "bank", "crm"} - set(sources):
        assert f"{source}: not configured" in output
        tables = read(home, "select table_name, rows_loaded from source_loads where source = ?", [source])
        assert tables and all(rows == 0 for _, rows in tables)
    # nothing reads as a failure because a source is absent
    assert not read(home, "select check_id, period from recon_results where status = 'fail'")


def test_ledger_figures_are_exact_without_bank_or_crm(configured, demo_data: Path) -> None:
    home, sources, _ = configured
    if "erp" not in sources:
        assert read(home, "select count(*) from erp_journal_lines")[0][0] == 0
        return
    expected = reference_kpis(demo_data, FIRST_PERIOD, AS_OF)
    actual = {(p, k): v for p, k, v in read(home, "select period, kpi, value from mart_kpis")}
    wrong = [
        (p, k, actual.get((p, k)), v)
        for p, kpis in expected.items()
        for k, v in kpis.items()
        if k not in POINT_IN_TIME_CRM and actual.get((p, k)) != v
    ]
    assert not wrong, wrong[:5]
    # cash comes from the GL's cash accounts, with or without a bank feed
    assert actual[(LAST_ENDED, "cash")] == expected[LAST_ENDED]["cash"] != 0


def test_page_leaves_out_what_it_cannot_show_and_says_why(configured) -> None:
    home, sources, _ = configured
    page = (home / "reports" / "latest.html").read_text(encoding="utf-8")
    if "crm" not in sources:
        assert "no crm source is configured" in page
        assert 'data-kpi="pipeline_open"' not in page
    assert "not configured" in page  # the reconciliation cards name the missing source
    if "erp" in sources:
        assert 'data-kpi="revenue"' in page and 'data-kpi="cash"' in page


def test_a_month_closes(configured) -> None:
    home, sources, _ = configured
    close_in_process(home, LAST_ENDED, "controller")  # asserts the run succeeded (the CLI: tests/test_close_e2e.py)
    status = read(
        home,
        "select status, closed_by from close_snapshots where period = ? order by version desc limit 1",
        [LAST_ENDED],
    )
    assert status == [("closed", "controller")]


@pytest.mark.slow  # the CLI connects to the configured servers as stdio subprocesses
def test_connectors_check_names_the_optional_sources_left_out(configured) -> None:
    home, sources, _ = configured
    if sources != ("erp",):
        pytest.skip("once is enough: the ERP-only home")
    checked = closeboard("connectors", "check", home=home)
    assert "bank: not configured (optional)" in checked.stdout
    assert "crm: not configured (optional)" in checked.stdout and "R5 bookings vs billings" in checked.stdout
    assert "erp: R7 ERP report tie-out: reads the ERP's own trial balance through get_trial_balance" in checked.stdout
