"""Budget vs actual on the demo (the bundled budget server over demo/budget.csv): the income
statement's budget, variance and variance % columns (mart_statements) and the KPI comparison
(mart_budget) against an independent computation from the CSV files (tests/budget_reference.py);
no budget means no budget figure, never 0.00."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.budget_reference import budget_rows, reference_budget
from tests.conftest import read


def ended_periods(home: Path) -> list[str]:
    return [p for (p,) in read(home, "select period from periods where not is_open order by period")]


def test_income_statement_budget_columns_equal_an_independent_computation(demo_home: Path) -> None:
    periods = ended_periods(demo_home)
    expected = reference_budget(demo_home / "demo", periods)
    rows = read(
        demo_home,
        """
        select period, line_id, budget, amount, variance, variance_pct, favourable from mart_statements
        where statement = 'income_statement' and rollup = 'account' and period in (select unnest(?))""",
        [periods],
    )
    shown = {(p, line): (b, a, v, pct, fav) for p, line, b, a, v, pct, fav in rows if b is not None}
    assert set(shown) == set(expected)
    assert len({p for p, _ in shown}) == len(periods)  # every ended month of the demo has a budget
    for key, (budget, amount, variance, pct, favourable) in shown.items():
        ref = expected[key]
        assert (budget, amount, variance, pct, favourable) == (
            ref["budget"],
            ref["actual"],
            ref["variance"],
            ref["variance_pct"],
            ref["favourable"],
        ), key
        assert variance == amount - budget  # the identity, to the cent
    # a line with no budget row under it has none: null, never 0.00 (the demo budgets no bad debt)
    unbudgeted = read(
        demo_home,
        """
        select count(*), count(budget), count(variance) from mart_statements s
        where statement = 'income_statement' and rollup = 'account' and kind = 'account'
          and not exists (select 1 from budgets b where b.period = s.period and b.account_id = s.line_id)""",
    )
    count, budgets, variances = unbudgeted[0]
    assert count > 0 and budgets == 0 and variances == 0
    # the balance sheet and the cash flow carry no budget
    assert read(demo_home, "select count(budget) from mart_statements where statement <> 'income_statement'")[0][0] == 0


def test_the_subtype_rollup_budgets_add_up_to_the_same_totals(demo_home: Path) -> None:
    rows = read(
        demo_home,
        """
        select period, rollup, line_id, budget from mart_statements
        where statement = 'income_statement' and kind = 'total' and budget is not null""",
    )
    by_rollup: dict[tuple[str, str], dict[str, Decimal]] = {}
    for period, rollup, line, budget in rows:
        by_rollup.setdefault((period, line), {})[rollup] = budget
    assert by_rollup and all(v["account"] == v["subtype"] for v in by_rollup.values())


def test_kpi_budgets_and_variance(demo_home: Path) -> None:
    periods = ended_periods(demo_home)
    expected = reference_budget(demo_home / "demo", periods)
    rows = read(demo_home, "select period, kpi, budget, actual, variance, variance_pct, favourable from mart_budget")
    got = {(p, k): (b, a, v, pct, fav) for p, k, b, a, v, pct, fav in rows}
    net_burn = {(r["period"], r["kpi"]): Decimal(r["amount"]) for r in budget_rows(demo_home / "demo") if r["kpi"]}
    for period in periods:
        for kpi, line in (
            ("revenue", "total_revenue"),
            ("cogs", "total_cogs"),
            ("opex", "total_opex"),
            ("gross_profit", "gross_profit"),
            ("net_income", "net_income"),
        ):
            ref = expected[(period, line)]
            assert got[(period, kpi)] == (
                ref["budget"],
                ref["actual"],
                ref["variance"],
                ref["variance_pct"],
                ref["favourable"],
            ), (period, kpi)
        budget, actual, variance, _, favourable = got[(period, "net_burn")]
        assert budget == net_burn[(period, "net_burn")] and variance == actual - budget
        assert favourable == (variance <= 0)  # burning more than planned is unfavourable
    # the open month is month to date: its budget is shown, its variance is not (no false alarm)
    open_rows = read(
        demo_home,
        "select count(*), count(variance), count(favourable) from mart_budget b "
        "join periods p using (period) where p.is_open",
    )[0]
    assert open_rows[0] > 0 and open_rows[1] == open_rows[2] == 0
