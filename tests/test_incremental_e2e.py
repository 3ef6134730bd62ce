"""Incremental refresh end to end: once months are signed off, a refresh pulls journal lines only for
the months that may have changed, and still sees a backdated entry in a closed month.

A copy of `demo_home` (refreshed through the CLI and stdio servers); its closes and refreshes run in
this process with the bundled servers in memory, through the same MCP client and its audit trail."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import close_in_process, copy_home, edit_config, read, refresh_in_process

CLOSED = ("2026-03", "2026-04")


def journal_windows(home: Path) -> list[tuple[str | None, str | None]]:
    last_run = read(
        home, "select run_id from connector_calls where tool = 'list_journal_lines' order by rowid desc limit 1"
    )[0][0]
    args = [
        json.loads(a)
        for (a,) in read(
            home,
            "select arguments from connector_calls where run_id = ? and "
            "tool = 'list_journal_lines' and page = 1 order by rowid",
            [last_run],
        )
    ]
    return [(a.get("date_from"), a.get("date_to")) for a in args]


def test_refresh_after_a_close_pulls_only_open_and_changed_months(demo_home: Path, tmp_path: Path) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    for period in CLOSED:
        close_in_process(home, period, "Controller")
    kpis_before = read(home, "select * from mart_kpis order by all")
    lines_before = read(home, "select count(*), sum(debit), sum(credit) from erp_journal_lines")[0]

    refresh_in_process(home)
    assert journal_windows(home) == [("2024-06-01", "2026-02-28"), ("2026-05-01", "2026-06-30")]
    assert read(home, "select count(*), sum(debit), sum(credit) from erp_journal_lines")[0] == lines_before
    assert read(home, "select * from mart_kpis order by all") == kpis_before
    total, received = read(
        home, "select reported_total, rows_received from source_loads where table_name = 'erp_journal_lines'"
    )[0]
    assert total == received < lines_before[0]

    with (home / "demo" / "erp" / "journal_lines.csv").open("a", encoding="utf-8") as f:
        f.write("JE-LATE-1,1,2026-03-20,6100,250.00,0.00,USD,,late invoice,,,\n")
        f.write("JE-LATE-1,2,2026-03-20,2200,0.00,250.00,USD,,late invoice,,,\n")
    refresh_in_process(home)
    assert journal_windows(home) == [("2024-06-01", "2026-03-31"), ("2026-05-01", "2026-06-30")]
    assert read(home, "select count(*) from erp_journal_lines")[0][0] == lines_before[0] + 2
    statuses = read(home, "select status from close_snapshots where period = '2026-03' order by version")
    assert [s for (s,) in statuses][-2:] == ["closed", "restated"]

    # the safety net: once the last whole pull is older than `full_pull_every_days`, the lines are
    # pulled whole again even though the summary says nothing changed
    kpis_incremental = read(home, "select * from mart_kpis order by all")
    edit_config(home, lambda raw: raw["connectors"]["erp"].update(full_pull_every_days=0))
    refresh_in_process(home)
    assert journal_windows(home) == [(None, None)]
    assert read(home, "select count(*) from erp_journal_lines")[0][0] == lines_before[0] + 2
    assert read(home, "select * from mart_kpis order by all") == kpis_incremental
