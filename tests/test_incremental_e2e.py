"""Incremental refresh end to end: a refresh pulls journal lines, bank lines, documents and payments
only for the months whose summary changed (sign-off does not decide; the open month's journal lines
too only when its digest changed, with the journal summary allow-listed, and every time without it;
journal lines only for the days whose digest changed, with the journal's days allow-listed too),
still sees a backdated entry in a closed month and an edited description, and leaves the warehouse
equal to what a whole pull gives.

A copy of `demo_home` (refreshed in process with the bundled servers in memory); its closes and
refreshes run in this process through the same MCP client and its audit trail (`connector_calls`)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from connectors.periods import windows
from tests.conftest import AS_OF, close_in_process, copy_home, edit_config, read, refresh_in_process

CLOSED = ("2026-03", "2026-04")
OPEN = AS_OF.strftime("%Y-%m")
OPEN_WINDOW = windows([OPEN])[0]
LISTS = ("list_journal_lines", "list_invoices", "list_bills", "list_payments", "list_transactions")
# the tables a whole pull and an incremental one must leave equal, with the order that compares them
TABLES = {
    "erp_journal_lines": "entry_id, line_no",
    "erp_invoices": "invoice_id",
    "erp_bills": "bill_id",
    "erp_payments": "payment_id, line_no",
    "bank_transactions": "txn_id",
}


def last_calls(home: Path) -> dict[str, list[tuple[str | None, str | None]]]:
    """Per tool, the (date_from, date_to) of each call of the last run that started a pull (page 1)."""
    run = read(home, "select run_id from connector_calls order by rowid desc limit 1")[0][0]
    calls: dict[str, list[tuple[str | None, str | None]]] = defaultdict(list)
    for tool, arguments in read(
        home,
        "select tool, arguments from connector_calls where run_id = ? and coalesce(page, 1) = 1 order by rowid",
        [run],
    ):
        args = json.loads(arguments) if arguments else {}
        calls[tool].append((args.get("date_from"), args.get("date_to")))
    return calls


def contents(home: Path) -> dict[str, list[tuple]]:
    """The canonical tables and the figures built from them (without run ids; R6 counts what this
    load received, so it is checked on its own)."""
    tables = {t: read(home, f"select * from {t} order by {order}") for t, order in TABLES.items()}
    tables["mart_kpis"] = read(home, "select * from mart_kpis order by all")
    tables["recon_results"] = read(
        home,
        "select * exclude (run_id) from recon_results where check_id <> 'R6_completeness' "
        "order by period, check_id, status, detail",
    )
    return tables


def rewrite(path: Path, change) -> None:  # noqa: ANN001
    """Rewrite a demo CSV file with `change(rows)` applied to its rows (dicts)."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    change(rows)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)


def test_an_unchanged_source_is_read_by_its_summaries_whatever_is_signed_off(demo_home: Path, tmp_path: Path) -> None:
    """Nothing changed: the summaries are read and nothing else (no month of journal or bank lines, not
    even the open month's, whose digests did not change; no document or payment), whatever is signed
    off, and every table and figure stays as it was. The refresh after the first (whole) load reads the
    journal's digests for the first time: it still pulls the open month's lines, as without them."""
    home = copy_home(demo_home, tmp_path / "home")
    for period in CLOSED:
        close_in_process(home, period, "Controller")
    before = contents(home)

    refresh_in_process(home)
    calls = last_calls(home)
    assert calls["list_journal_lines"] == [OPEN_WINDOW] and calls["get_journal_summary"] == [(None, None)]
    assert "list_transactions" not in calls
    refresh_in_process(home)
    calls = last_calls(home)
    for tool in LISTS:
        assert tool not in calls, tool
    assert len(calls["get_document_summary"]) == 3 and calls["get_ledger_summary"] == [(None, None)]
    assert calls["get_journal_summary"] == [(None, None)] and calls["get_transaction_summary"] == [(None, None)]
    assert contents(home) == before
    loads = read(
        home,
        "select table_name, reported_total, rows_received, source_as_of is not null from source_loads "
        "where table_name in ('erp_invoices', 'erp_bills', 'erp_payments') order by table_name",
    )
    assert loads == [(t, 0, 0, True) for t in ("erp_bills", "erp_invoices", "erp_payments")]
    r6 = read(home, "select status from recon_results where check_id = 'R6_completeness' and period = ?", [OPEN])
    assert r6 == [("pass",)]  # each table's rows received equal the total its windows reported


def test_an_old_invoice_paid_today_pulls_its_month_and_today_and_equals_a_whole_pull(
    demo_home: Path, tmp_path: Path
) -> None:
    """An invoice issued months ago is paid today: its issue month's document summary changes (its
    balance and status) and so does the open month's payments; only those months are pulled again,
    and the warehouse, the marts and the checks equal a whole pull of the same data."""
    home = copy_home(demo_home, tmp_path / "home")
    erp = home / "demo" / "erp"
    with (erp / "invoices.csv").open(encoding="utf-8", newline="") as f:
        invoice = min(
            (
                r
                for r in csv.DictReader(f)
                if r["status"] == "open" and r["doc_type"] == "invoice" and r["issue_date"] < "2026-03"
            ),
            key=lambda r: r["issue_date"],
        )
    number, month, open_balance = invoice["invoice_id"], invoice["issue_date"][:7], invoice["balance"]

    def settle(rows: list[dict[str, str]]) -> None:
        for row in rows:
            if row["invoice_id"] == number:
                row.update(balance="0.00", status="paid")

    rewrite(erp / "invoices.csv", settle)
    day = AS_OF.isoformat()
    append(erp / "payments.csv", f"PAY-LATE-1,1,{number},{day},{open_balance},USD,payment")
    append(
        erp / "journal_lines.csv",
        f"JE-LATE-PAY,1,{day},1110,{open_balance},0.00,USD,,Payment PAY-LATE-1 on {number},{invoice['customer_id']},,{number}",
        f"JE-LATE-PAY,2,{day},1200,0.00,{open_balance},USD,,Payment PAY-LATE-1 on {number},{invoice['customer_id']},,{number}",
    )
    append(home / "demo" / "bank" / "transactions.csv", f"TXN-LATE-1,BA-001,{day},{open_balance},LATE PAYMENT,{number}")

    refresh_in_process(home)
    calls = last_calls(home)
    assert calls["list_invoices"] == windows([month])
    assert calls["list_payments"] == [OPEN_WINDOW]
    assert "list_bills" not in calls
    assert calls["list_journal_lines"] == [OPEN_WINDOW] and calls["list_transactions"] == [OPEN_WINDOW]
    assert read(home, "select balance, status from erp_invoices where invoice_id = ?", [number]) == [(0, "paid")]
    incremental = contents(home)
    r6 = read(home, "select status from recon_results where check_id = 'R6_completeness' and period = ?", [OPEN])
    assert r6 == [("pass",)]

    edit_config(home, lambda raw: [c.update(full_pull_every_days=0) for c in raw["connectors"].values()])
    refresh_in_process(home)
    calls = last_calls(home)
    for tool in LISTS:
        assert calls[tool] == [(None, None)], tool
    assert contents(home) == incremental


def test_a_backdated_entry_in_a_closed_month_is_pulled_and_restates_it(demo_home: Path, tmp_path: Path) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    for period in CLOSED:
        close_in_process(home, period, "Controller")
    refresh_in_process(home)  # the journal's digests read a first time (the demo's load is whole)
    lines_before = read(home, "select count(*) from erp_journal_lines")[0][0]

    append(
        home / "demo" / "erp" / "journal_lines.csv",
        "JE-LATE-1,1,2026-03-20,6100,250.00,0.00,USD,,late invoice,,,",
        "JE-LATE-1,2,2026-03-20,2200,0.00,250.00,USD,,late invoice,,,",
    )
    refresh_in_process(home)
    assert last_calls(home)["list_journal_lines"] == [("2026-03-20", "2026-03-20")]  # that day alone
    assert read(home, "select count(*) from erp_journal_lines")[0][0] == lines_before + 2
    statuses = read(home, "select status from close_snapshots where period = '2026-03' order by version")
    assert [s for (s,) in statuses][-2:] == ["closed", "restated"]

    # the safety net: once the last whole pull is older than `full_pull_every_days`, the lines and
    # documents are pulled whole again even though the summaries say nothing changed
    kpis_incremental = read(home, "select * from mart_kpis order by all")
    edit_config(home, lambda raw: raw["connectors"]["erp"].update(full_pull_every_days=0))
    refresh_in_process(home)
    calls = last_calls(home)
    for tool in ("list_journal_lines", "list_invoices", "list_bills", "list_payments"):
        assert calls[tool] == [(None, None)], tool
    assert "list_transactions" not in calls  # the bank's own last whole pull is recent
    assert read(home, "select count(*) from erp_journal_lines")[0][0] == lines_before + 2
    assert read(home, "select * from mart_kpis order by all") == kpis_incremental


def test_an_edited_description_pulls_its_month_then_its_day_and_the_open_month_only_when_it_changed(
    demo_home: Path, tmp_path: Path
) -> None:
    """A line's description edited (counts and sums per account unchanged): with the journal summary
    allow-listed, its month's digest changes and that month alone is pulled again, in a closed month
    as in the open one, and the warehouse equals a whole pull; with the journal's days allow-listed too,
    a month is pulled only for the days whose digest changed (an edit, a new entry, a day whose lines
    were all removed) once its days are kept: every month's are read at the first refresh after a whole
    pull, whose changes still pull their months whole; without the journal summary, the open month's
    lines are pulled at every refresh, as its counts and sums cannot show such a change."""
    home = copy_home(demo_home, tmp_path / "home")
    refresh_in_process(home)  # the journal's digests read a first time (the demo's load is whole)
    assert last_calls(home)["get_journal_days"] == [(None, None)]  # every month's days, once
    path = home / "demo" / "erp" / "journal_lines.csv"
    edited: list[str] = []  # the day of each line edited

    def edit(month: str, text: str):  # noqa: ANN202
        def change(rows: list[dict[str, str]]) -> None:
            row = next(r for r in rows if r["posted_date"].startswith(month))
            row["description"] = text
            edited.append(row["posted_date"])

        return change

    rewrite(path, edit("2026-03", "reworded in a closed month"))
    refresh_in_process(home)
    calls = last_calls(home)
    assert calls["list_journal_lines"] == windows([edited[-1]]) and calls["get_journal_days"] == windows(["2026-03"])
    rewrite(path, edit(OPEN, "reworded today"))
    refresh_in_process(home)
    assert last_calls(home)["list_journal_lines"] == windows([edited[-1]])
    # a new entry today and every line of another day of the month removed: those two days
    days = read(
        home, f"select distinct posted_date::varchar from erp_journal_lines where posted_date::varchar like '{OPEN}-%'"
    )
    gone = min(d for (d,) in days if d not in edited)

    def remove_day(rows: list[dict[str, str]]) -> None:
        rows[:] = [r for r in rows if r["posted_date"] != gone]

    rewrite(path, remove_day)
    append(
        path,
        f"JE-TODAY-1,1,{AS_OF.isoformat()},6100,250.00,0.00,USD,,today,,,",
        f"JE-TODAY-1,2,{AS_OF.isoformat()},2200,0.00,250.00,USD,,today,,,",
    )
    refresh_in_process(home)
    assert last_calls(home)["list_journal_lines"] == windows([gone, AS_OF.isoformat()])
    assert read(home, f"select count(*) from erp_journal_lines where posted_date = '{gone}'") == [(0,)]
    r6 = read(home, "select status from recon_results where check_id = 'R6_completeness' and period = ?", [OPEN])
    assert r6 == [("pass",)]  # the rows received equal the totals the day windows reported
    described = (
        "select count(*) from erp_journal_lines where description in ('reworded in a closed month', 'reworded today')"
    )
    assert read(home, described) == [(2,)]
    incremental = contents(home)

    edit_config(home, lambda raw: raw["connectors"]["erp"].update(full_pull_every_days=0))
    refresh_in_process(home)
    assert last_calls(home)["list_journal_lines"] == [(None, None)]
    assert contents(home) == incremental
    # after a whole pull no day is kept: a change the next refresh sees pulls its month, and every day is read
    edit_config(home, lambda raw: raw["connectors"]["erp"].update(full_pull_every_days=7))
    append(
        path, "JE-LATE-2,1,2026-04-15,6100,9.00,0.00,USD,,late,,,", "JE-LATE-2,2,2026-04-15,2200,0.00,9.00,USD,,late,,,"
    )
    refresh_in_process(home)
    calls = last_calls(home)
    assert calls["list_journal_lines"] == windows(["2026-04", OPEN]) and calls["get_journal_days"] == [(None, None)]
    incremental = contents(home)

    def without_journal_summary(raw: dict) -> None:
        erp = raw["connectors"]["erp"]
        erp["allow_tools"] = [t for t in erp["allow_tools"] if t != "get_journal_summary"]

    edit_config(home, without_journal_summary)
    refresh_in_process(home)  # the stored summary's digests are gone from the new one: pulled whole once
    refresh_in_process(home)
    calls = last_calls(home)
    assert calls["list_journal_lines"] == [OPEN_WINDOW] and "get_journal_summary" not in calls
    assert contents(home) == incremental
