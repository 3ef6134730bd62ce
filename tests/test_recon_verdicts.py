"""The checks' great-expectations verdicts (pipelines/expectations.py) are validated again only where what a
check's suite reads changed since its stored verdict (`recon_verdicts`); elsewhere the stored verdict stands
and its asset check says which run validated it. Real refreshes in this process (in-memory sources) on a
copy of the session's demo home, real great-expectations where a check is validated again."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from tests.conftest import (
    ACCRUAL,
    AS_OF,
    EXPENSE,
    REPO,
    append_journal,
    copy_home,
    edit_config,
    read,
    refresh_in_process,
)
from warehouse.checks import CHECK_IDS
from warehouse.db import connect


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


# A first refresh imports great-expectations on a thread while the reconciliation runs; the reconciliation's
# own lazy imports (scipy, which great-expectations imports too) are done before that thread starts: two
# threads importing scipy at once failed a first refresh with "_DeadlockError: deadlock detected by
# _ModuleLock('scipy.linalg.cython_lapack')" (seen building the suite's demo home).


def test_a_first_validation_imports_the_reconciliation_s_lazy_modules_before_great_expectations(
    demo_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipelines.recon
    from warehouse.recon import LAZY_IMPORTS

    home = copy_home(demo_home, tmp_path / "home")
    with connect(home / "warehouse.duckdb") as con:
        con.execute("delete from recon_verdicts")  # none stored: every check is validated
    asked: list[tuple[str, ...]] = []
    start = pipelines.recon.import_meanwhile
    monkeypatch.setattr(pipelines.recon, "import_meanwhile", lambda *first: asked.append(first) or start(*first))
    refresh_in_process(home)
    assert asked == [LAZY_IMPORTS]


def test_import_meanwhile_imports_what_it_is_given_first_on_the_caller_s_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.expectations import import_meanwhile

    (tmp_path / "imported_first.py").write_text(
        "import threading\n"
        "THREAD = threading.current_thread().name\n"
        "OTHERS = sorted(t.name for t in threading.enumerate())\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    thread = import_meanwhile("imported_first")
    thread.join(120)
    first = sys.modules.pop("imported_first")
    assert first.THREAD == threading.current_thread().name
    assert thread.name not in first.OTHERS  # before the thread that imports great-expectations started


def test_the_lazy_imports_are_all_a_reconciliation_imports(demo_home: Path, tmp_path: Path) -> None:
    """`build_recon` of every period (R2 matched at every month-end: its pair graph's components found)
    imports nothing beyond what LAZY_IMPORTS names: checked in a fresh process, on a copy of the demo's
    warehouse."""
    warehouse = Path(shutil.copy(demo_home / "warehouse.duckdb", tmp_path / "warehouse.duckdb"))
    code = (
        "import importlib, sys\n"
        "import duckdb\n"
        "from warehouse import recon\n"
        "for name in recon.LAZY_IMPORTS:\n"
        "    importlib.import_module(name)\n"
        "before = set(sys.modules)\n"
        f"con = duckdb.connect({str(warehouse)!r})\n"
        "summary = recon.build_recon(con, 'lazy-imports', full=True)\n"
        "assert summary.periods >= recon.COMPONENTS_FROM and summary.matches, summary\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout
