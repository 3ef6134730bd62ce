"""The checks' great-expectations verdicts (pipelines/expectations.py) are validated again only where what a
check's suite reads changed since its stored verdict (`recon_verdicts`); elsewhere the stored verdict stands
and its asset check says which run validated it. Real refreshes in this process (in-memory sources) on a
copy of the session's demo home, real great-expectations where a check is validated again."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import ACCRUAL, AS_OF, EXPENSE, append_journal, copy_home, edit_config, read, refresh_in_process
from warehouse.checks import CHECK_IDS


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def validated_in(evaluation: dg.AssetCheckEvaluation) -> str:
    return str(evaluation.metadata["validated_in"].value)


def stored(home: Path) -> dict[str, tuple[str, str]]:
    """check_id -> (outcome, the run that validated it), as recon_verdicts holds them."""
    return {c: (o, r) for c, o, r in read(home, "select check_id, outcome, validated_in from recon_verdicts")}


def test_unchanged_checks_keep_their_verdict_without_great_expectations_and_changed_ones_are_validated(
    demo_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = copy_home(demo_home, tmp_path / "home")
    demo = stored(home)
    # every configured check was validated by the demo's refresh; R7 reads an ERP report the demo has
    configured = [c for c in CHECK_IDS if c in demo]
    assert len(configured) >= 6 and {o for o, _ in demo.values()} == {"pass"}, demo
    (demo_run,) = {r for _, r in demo.values()}

    # 1. nothing changed: every verdict stands, and great-expectations is not even imported
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "great_expectations", None)  # an import of it now raises ImportError
        unchanged = evaluations(refresh_in_process(home))
    assert set(unchanged) == set(CHECK_IDS)
    for check_id in configured:
        assert unchanged[check_id].passed, check_id
        assert validated_in(unchanged[check_id]) == f"run {demo_run} (same rows)", check_id
        assert unchanged[check_id].metadata["expectations_evaluated"].value >= 3
    assert stored(home) == demo

    # 2. a severity changes one check's suite: that check alone is validated again
    edit_config(home, lambda raw: raw["reconciliation"].update(severity={"R5_bookings_vs_billings": "error"}))
    result = refresh_in_process(home)
    severity = evaluations(result)
    assert validated_in(severity["R5_bookings_vs_billings"]) == "this run"
    assert severity["R5_bookings_vs_billings"].passed
    assert all(validated_in(severity[c]) == f"run {demo_run} (same rows)" for c in configured if c[:2] != "R5")
    after = stored(home)
    assert after["R5_bookings_vs_billings"] == ("pass", result.run_id)
    assert {c: v for c, v in after.items() if c[:2] != "R5"} == {c: v for c, v in demo.items() if c[:2] != "R5"}

    # 3. an unbalanced entry in the open month changes R1's rows: R1 is validated again and fails
    month = AS_OF.strftime("%Y-%m")
    append_journal(
        home,
        "JE-VERDICT-1",
        f"{month}-02",
        [(EXPENSE, Decimal("100.00"), Decimal(0)), (ACCRUAL, Decimal(0), Decimal("90.00"))],
    )
    result = refresh_in_process(home)
    broken = evaluations(result)
    assert validated_in(broken["R1_trial_balance"]) == "this run"
    assert not broken["R1_trial_balance"].passed
    assert broken["R1_trial_balance"].severity == dg.AssetCheckSeverity.ERROR
    assert "No period has an ERROR finding (it would block sign-off)." in (broken["R1_trial_balance"].description or "")
    assert month in str(broken["R1_trial_balance"].metadata["failing_periods"].value)
    assert stored(home)["R1_trial_balance"] == ("fail", result.run_id)
    # the next refresh, with nothing changed, keeps the failing verdict as it stands
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "great_expectations", None)
        again = evaluations(refresh_in_process(home))
    assert not again["R1_trial_balance"].passed
    assert validated_in(again["R1_trial_balance"]) == f"run {result.run_id} (same rows)"
