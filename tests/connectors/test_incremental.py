"""Which months a refresh pulls again, from the ledger summary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from connectors.adapters.beancount import BeancountAdapter

from connectors.incremental import (
    DAY_DIGEST,
    Baseline,
    MonthSummary,
    days_to_ask,
    days_to_pull,
    periods_to_pull,
    stored_baseline,
    summary_rows,
)
from connectors.periods import windows


def summary(*rows: tuple[str, str, int, str, str]) -> frozenset:
    return summary_rows({"period": p, "account_id": a, "lines": n, "debit": d, "credit": c} for p, a, n, d, c in rows)


LEDGER = summary(
    ("2026-01", "1000", 2, "10.00", "0.00"),
    ("2026-01", "4000", 2, "0.00", "10.00"),
    ("2026-02", "1000", 1, "5.00", "0.00"),
    ("2026-02", "4000", 1, "0.00", "5.00"),
    ("2026-03", "1000", 1, "7.00", "0.00"),
    ("2026-03", "4000", 1, "0.00", "7.00"),
)


def test_first_load_and_unsettled_history_pull_everything() -> None:
    assert periods_to_pull(LEDGER, None) is None
    assert periods_to_pull(LEDGER, Baseline(frozenset())) is None
    assert periods_to_pull(LEDGER, Baseline(LEDGER, frozenset())) is None  # nothing settled: all of it


def test_only_unsettled_and_changed_months_are_pulled() -> None:
    settled = frozenset({"2026-01", "2026-02"})
    assert periods_to_pull(LEDGER, Baseline(LEDGER, settled)) == ["2026-03"]
    # a reclassification inside settled January keeps its totals per month but not per account
    moved = (LEDGER - summary(("2026-01", "4000", 2, "0.00", "10.00"))) | summary(
        ("2026-01", "4100", 2, "0.00", "10.00")
    )
    assert periods_to_pull(moved, Baseline(LEDGER, settled)) == ["2026-01", "2026-03"]
    # a backdated line in settled February changes its line count
    backdated = (LEDGER - summary(("2026-02", "1000", 1, "5.00", "0.00"))) | summary(
        ("2026-02", "1000", 2, "5.00", "0.00")
    )
    assert periods_to_pull(backdated, Baseline(LEDGER, settled)) == ["2026-02", "2026-03"]


def test_a_month_that_vanished_forces_a_whole_pull() -> None:
    without_january = frozenset(r for r in LEDGER if r[0] != "2026-01")
    assert periods_to_pull(without_january, Baseline(LEDGER, frozenset({"2026-02"}))) is None


def test_windows_are_contiguous_runs_of_months() -> None:
    assert windows(["2026-03", "2025-12", "2026-01", "2026-05"]) == [
        ("2025-12-01", "2026-01-31"),
        ("2026-03-01", "2026-03-31"),
        ("2026-05-01", "2026-05-31"),
    ]
    assert windows(["2024-02"]) == [("2024-02-01", "2024-02-29")]
    assert next(iter(summary(("2026-01", "1", 1, "0.1", "0")))) == ("2026-01", "1", 1, Decimal("0.1"), Decimal("0"))


def test_a_ledger_file_pulls_its_changed_months_and_the_open_month_whatever_is_signed_off() -> None:
    """beancount has no sign-off: the months whose summary changed, plus the open month (the report
    date's) when the ledger has postings in it; nothing at all when neither."""
    adapter = BeancountAdapter()
    adapter.as_of = date(2026, 3, 10)
    assert adapter.periods_to_pull(LEDGER, None) is None
    assert adapter.periods_to_pull(LEDGER, Baseline(LEDGER)) == ["2026-03"]
    backdated = (LEDGER - summary(("2026-01", "1000", 2, "10.00", "0.00"))) | summary(
        ("2026-01", "1000", 3, "10.00", "0.00")
    )
    assert adapter.periods_to_pull(backdated, Baseline(LEDGER)) == ["2026-01", "2026-03"]
    adapter.as_of = date(2026, 5, 2)  # the open month has no postings yet
    assert adapter.periods_to_pull(LEDGER, Baseline(LEDGER)) == []
    assert adapter.periods_to_pull(backdated, Baseline(LEDGER)) == ["2026-01"]


def test_a_stored_summary_settles_every_month_but_the_open_one() -> None:
    """Sign-off does not decide: with the open month March, an unchanged January or February is not
    pulled again whether signed off or not; a changed one is, and so is March."""
    assert periods_to_pull(LEDGER, stored_baseline(LEDGER, "2026-03")) == ["2026-03"]
    assert periods_to_pull(LEDGER, stored_baseline(LEDGER, "2026-04")) == []
    backdated = (LEDGER - summary(("2026-01", "1000", 2, "10.00", "0.00"))) | summary(
        ("2026-01", "1000", 3, "10.00", "0.00")
    )
    assert periods_to_pull(backdated, stored_baseline(LEDGER, "2026-03")) == ["2026-01", "2026-03"]
    assert periods_to_pull(backdated, stored_baseline(LEDGER, None)) == ["2026-01"]


def test_a_month_summary_row_carries_its_digest_count_and_sums_to_the_cent() -> None:
    invoices = MonthSummary("erp_invoices", "get_document_summary", "issue_date", ("total", "balance"))
    item = {"period": "2026-01", "count": 3, "total": "10.005", "balance": "-1", "digest": "00ff"}
    assert invoices.rows([item]) == {("2026-01", ":00ff", 3, Decimal("10.00"), Decimal("-1.00"))}
    bank = MonthSummary("bank_transactions", "t", "booked_date", ("amount",), by="bank_account_id")
    assert bank.rows([{"period": None, "bank_account_id": "BA-1", "count": 1, "amount": "5", "digest": "1"}]) == {
        ("", "BA-1:1", 1, Decimal("5.00"), Decimal("0.00"))
    }


def digests(*rows: tuple[str, int, str], account: str = "#journal") -> frozenset:
    """A digest row per month (period, lines, digest), as the ERP adapter adds get_journal_summary's."""
    return summary(*((p, account, n, d, "0") for p, n, d in rows))


DIGESTED = LEDGER | digests(("2026-01", 4, "111"), ("2026-02", 2, "222"), ("2026-03", 2, "333"))


def test_a_month_with_a_digest_of_its_lines_is_pulled_only_when_it_changed_the_open_month_too() -> None:
    assert periods_to_pull(DIGESTED, stored_baseline(DIGESTED, "2026-03")) == []
    # a description edited in March: its sums per account are the same, its digest is not
    edited = (DIGESTED - digests(("2026-03", 2, "333"))) | digests(("2026-03", 2, "334"))
    assert periods_to_pull(edited, stored_baseline(DIGESTED, "2026-03")) == ["2026-03"]
    # and in settled January, which the sums alone would leave alone until the next whole pull
    old = (DIGESTED - digests(("2026-01", 4, "111"))) | digests(("2026-01", 4, "112"))
    assert periods_to_pull(old, stored_baseline(DIGESTED, "2026-03")) == ["2026-01"]
    # beancount's file server has its own digest rows ("#lines"): the same
    lines = LEDGER | digests(("2026-03", 2, "9"), account="#lines")
    assert periods_to_pull(lines, stored_baseline(lines, "2026-03")) == []


def test_digests_read_for_the_first_time_are_compared_from_the_next_refresh_and_vanished_ones_are_a_change() -> None:
    # the load before read no journal digest (a whole pull skips them): the open month is pulled as
    # without them, and no month counts as changed for its new digest row
    assert periods_to_pull(DIGESTED, stored_baseline(LEDGER, "2026-03")) == ["2026-03"]
    beanfile = LEDGER | digests(("2026-01", 4, "7"), ("2026-02", 2, "8"), ("2026-03", 2, "9"), account="#lines")
    assert periods_to_pull(beanfile | digests(("2026-03", 2, "333")), stored_baseline(beanfile, "2026-03")) == []
    # the digests no longer read (the tool left out of allow_tools): every month changed, a whole pull
    assert periods_to_pull(LEDGER, stored_baseline(DIGESTED, "2026-03")) is None


def days(*rows: tuple[str, int, int]) -> frozenset:
    """Day digest rows (day, lines, digest), as the ERP adapter reads get_journal_days'."""
    return summary(*((d, DAY_DIGEST, n, str(digest), "0") for d, n, digest in rows))


def test_windows_join_days_and_months_that_follow_on() -> None:
    assert windows(["2026-03-31", "2026-04", "2026-05-01", "2026-05-03"]) == [
        ("2026-03-31", "2026-05-01"),
        ("2026-05-03", "2026-05-03"),
    ]


def test_a_month_is_narrowed_to_the_days_whose_digest_changed_once_its_days_are_kept() -> None:
    before = days(("2026-03-02", 4, 11), ("2026-03-05", 2, 12), ("2026-03-09", 2, 13), ("2026-02-27", 2, 14))
    baseline = Baseline(LEDGER | before, frozenset({"2026-01", "2026-02", "2026-03"}))
    # an edit on the 5th, a new day (the 20th), every line of the 9th removed
    now = days(("2026-03-02", 4, 11), ("2026-03-05", 2, 99), ("2026-03-20", 2, 15))
    keys, kept = days_to_pull(["2026-03"], now, baseline)
    assert keys == ["2026-03-05", "2026-03-09", "2026-03-20"]
    assert kept == now | days(("2026-02-27", 2, 14))  # February's stand: its lines were not pulled
    # a month whose days were never kept (pulled whole since the last whole pull, or never) is pulled whole
    keys, kept = days_to_pull(["2026-01", "2026-03"], now | days(("2026-01-07", 2, 16)), baseline)
    assert keys == ["2026-01", "2026-03-05", "2026-03-09", "2026-03-20"]
    # and so is a month flagged whose days did not change (what changed is not in the day rows)
    assert days_to_pull(["2026-03"], before - days(("2026-02-27", 2, 14)), baseline)[0] == ["2026-03"]
    # nothing to pull: every kept day stands
    assert days_to_pull([], frozenset(), baseline) == ([], before)


def test_day_rows_never_take_part_in_the_comparison_by_month() -> None:
    settled = frozenset({"2026-01", "2026-02", "2026-03"})
    kept = days(("2026-03-02", 4, 11))
    assert periods_to_pull(LEDGER, Baseline(LEDGER | kept, settled)) == []
    assert periods_to_pull(LEDGER | days(("2026-03-02", 4, 99)), Baseline(LEDGER | kept, settled)) == []
    assert stored_baseline(LEDGER | kept, "2026-03").settled == frozenset({"2026-01", "2026-02"})


def test_every_month_s_days_are_read_while_some_month_has_none_kept() -> None:
    settled = frozenset({"2026-01", "2026-02", "2026-03"})
    assert days_to_ask(LEDGER, Baseline(LEDGER, settled), ["2026-03"]) is None  # after a whole pull: all, once
    kept = days(("2026-01-05", 2, 1), ("2026-02-03", 1, 2), ("2026-03-02", 1, 3))
    assert days_to_ask(LEDGER, Baseline(LEDGER | kept, settled), ["2026-03"]) == ["2026-03"]
    assert days_to_ask(LEDGER, Baseline(LEDGER | kept - days(("2026-02-03", 1, 2)), settled), []) is None
    # days read for more months than are pulled replace the kept days of every month they cover
    read = days(("2026-02-03", 1, 9), ("2026-03-02", 1, 3), ("2026-03-09", 1, 4))
    keys, stored = days_to_pull(["2026-03"], read, Baseline(LEDGER | kept, settled))
    assert keys == ["2026-03-09"] and stored == read | days(("2026-01-05", 2, 1))
