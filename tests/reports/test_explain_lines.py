"""The journal lines behind the statements' lines, as the page embeds them (reports/explain.py
`statement_account_lines`, `account_moves`, `earnings_lines`, issue 21 item 4): their queries choose
each account's largest lines in two passes and add the opening balances and earnings up from daily
sums; what they give equals, row for row and in the same order, what the previous queries gave (kept
below verbatim as the reference: every line ordered, every line joined once per period), for every
limit the page and the per-line explanation use (1, the page's 10, and every line), on months chosen
apart on the demo home's read copy, and with lines tied on their amount across the cut."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from reports import explain
from warehouse.db import connect
from warehouse.models import load_functions

STATEMENT_LINES = """
select
    p.period as period,
    jl.account_id as account_id,
    jl.posted_date as posted_date,
    jl.entry_id as entry_id,
    jl.line_no as line_no,
    jl.description as description,
    jl.document_id as document_id,
    (case when a.type = 'revenue' then jl.credit - jl.debit else jl.debit - jl.credit end)::decimal(18, 2)
        as amount,
    count(*) over (partition by p.period, jl.account_id) as _count,
    sum(case when a.type = 'revenue' then jl.credit - jl.debit else jl.debit - jl.credit end)
        over (partition by p.period, jl.account_id)::decimal(18, 2) as _total,
from erp_journal_lines as jl
inner join erp_accounts as a
    on a.account_id = jl.account_id
    and a.type in ('revenue', 'expense')
inner join periods as p
    on jl.posted_date between p.period_start and p.period_end
where p.period in (select unnest($periods::varchar[]))
    and jl.debit <> jl.credit
qualify row_number() over (
    partition by p.period, jl.account_id
    order by abs(amount) desc, amount desc, jl.entry_id, jl.line_no
) <= $limit
order by p.period, jl.account_id, abs(amount) desc, amount desc, jl.entry_id, jl.line_no
"""

ACCOUNT_MOVES = """
with

moves as (
    select
        p.period as period,
        jl.account_id as account_id,
        jl.posted_date as posted_date,
        jl.entry_id as entry_id,
        jl.line_no as line_no,
        jl.description as description,
        jl.document_id as document_id,
        (jl.debit - jl.credit)::decimal(18, 2) as amount,
    from erp_journal_lines as jl
    inner join erp_accounts as a
        on a.account_id = jl.account_id
        and a.type in (select unnest($types::varchar[]))
    inner join periods as p
        on jl.posted_date between p.period_start and p.period_end
    where p.period in (select unnest($periods::varchar[]))
        and jl.debit <> jl.credit
)

select
    m.*,
    count(*) over (partition by m.period, m.account_id) as _count,
    sum(m.amount) over (partition by m.period, m.account_id)::decimal(18, 2) as _total,
from moves as m
qualify row_number() over (
    partition by m.period, m.account_id
    order by abs(m.amount) desc, m.amount desc, m.entry_id, m.line_no
) <= $limit
union all
select
    p.period,
    a.account_id,
    (p.period_start - interval 1 day)::date,
    null,
    0,
    'Opening balance (the month-end before)',
    null,
    coalesce(sum(jl.debit - jl.credit), 0)::decimal(18, 2),
    0,
    0::decimal(18, 2),
from erp_accounts as a
cross join periods as p
left join erp_journal_lines as jl
    on jl.account_id = a.account_id
    and jl.posted_date < p.period_start
where p.period in (select unnest($periods::varchar[]))
    and a.type in (select unnest($types::varchar[]))
group by all
order by period, account_id, line_no = 0 desc, abs(amount) desc, amount desc, entry_id, line_no
"""

EARNINGS = """
select
    p.period as period,
    a.account_id as account_id,
    coalesce(sum(jl.credit - jl.debit) filter (where jl.posted_date >= fy.start), 0)::decimal(18, 2) as current,
    coalesce(sum(jl.credit - jl.debit) filter (where jl.posted_date < fy.start), 0)::decimal(18, 2) as retained,
from periods as p
cross join run_context as rc
cross join lateral (
    select make_date(
        year(p.period_start) - (case when month(p.period_start) < rc.fiscal_year_start_month then 1 else 0 end),
        rc.fiscal_year_start_month, 1
    ) as start
) as fy
cross join erp_accounts as a
left join erp_journal_lines as jl
    on jl.account_id = a.account_id
    and jl.posted_date <= p.period_end
where p.period in (select unnest($periods::varchar[]))
    and a.type in ('revenue', 'expense')
group by all
order by 1, 2
"""

EVERY = 2**62  # what explain passes for "every line"


@pytest.fixture(scope="module")
def con(demo_home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(demo_home / "warehouse.read.duckdb", read_only=True)
    yield c
    c.close()


def months(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The first reported month, two in the middle apart, the last ended one and the open one."""
    periods = [r[0] for r in con.execute("select period from periods order by period").fetchall()]
    assert len(periods) > 8
    return [periods[0], periods[len(periods) // 2], periods[len(periods) // 2 + 3], periods[-2], periods[-1]]


def reference(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> list[tuple]:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    return con.execute(sql, used).fetchall()


def current(con: duckdb.DuckDBPyConnection, name: str, **params: object) -> list[tuple]:
    load_functions(con)  # the shared macros the queries use (account_days()), as reports/explain.py loads them
    return reference(con, explain._query(name), **params)


def income_lines(con: duckdb.DuckDBPyConnection, **params: object) -> list[tuple]:
    """The income statement's lines as reports/explain.py reads them from explain_account_moves.sql."""
    income = {"types": ["revenue", "expense"], "normal": True, "opening": False}
    return current(con, "explain_account_moves.sql", **income, **params)


def balance_moves(con: duckdb.DuckDBPyConnection, **params: object) -> list[tuple]:
    """The balance sheet's moves and openings as reports/explain.py reads them."""
    return current(con, "explain_account_moves.sql", normal=False, opening=True, **params)


@pytest.mark.parametrize("limit", [1, 10, EVERY])
def test_the_lines_are_those_the_previous_queries_gave(con, limit: int) -> None:
    periods = months(con)
    lines = income_lines(con, periods=periods, limit=limit)
    assert lines == reference(con, STATEMENT_LINES, periods=periods, limit=limit)
    assert len({(r[0], r[1]) for r in lines}) > 10  # many accounts and months compared
    types = ["asset", "liability", "equity"]
    moves = balance_moves(con, periods=periods, limit=limit, types=types)
    assert moves == reference(con, ACCOUNT_MOVES, periods=periods, limit=limit, types=types)
    assert any(r[3] is None for r in moves) and any(r[3] is not None for r in moves)  # openings and lines
    earnings = current(con, "explain_earnings.sql", periods=periods)
    assert earnings == reference(con, EARNINGS, periods=periods)
    assert any(r[2] != 0 for r in earnings) and any(r[3] != 0 for r in earnings)


def test_lines_tied_across_the_cut_are_chosen_as_before(demo_home: Path, tmp_path: Path) -> None:
    """Thirty lines of one size on a revenue and a cash account in one month, more than the page
    shows, inserted in the reverse of the order they are chosen in: the same ones are chosen, by
    entry and line, and counted whole."""
    copy = tmp_path / "read.duckdb"
    shutil.copyfile(demo_home / "warehouse.read.duckdb", copy)
    with duckdb.connect(str(copy)) as con:
        period, start = con.execute(
            "select period, period_start from periods where not is_open order by period desc limit 1"
        ).fetchone()
        big = con.execute("select max(debit + credit) + 1000 from erp_journal_lines").fetchone()[0]
        revenue, cash = con.execute(
            "select min(account_id) filter (where type = 'revenue'), min(account_id) filter (where subtype = 'cash') "
            "from erp_accounts"
        ).fetchone()
        con.execute(
            """insert into erp_journal_lines by name
            select 'JE-TIE-' || lpad((100 - n)::varchar, 3, '0') as entry_id, k as line_no,
                   $start::date + 3 as posted_date, case k when 1 then $cash else $revenue end as account_id,
                   case k when 1 then $big else 0 end::decimal(18, 2) as debit,
                   case k when 1 then 0 else $big end::decimal(18, 2) as credit, 'USD' as currency,
                   'tie (test)' as description
            from range(0, 30) as t(n) cross join range(1, 3) as l(k)""",
            {"start": start, "big": big, "revenue": revenue, "cash": cash},
        )
        for limit in (10, EVERY):
            lines = income_lines(con, periods=[period], limit=limit)
            assert lines == reference(con, STATEMENT_LINES, periods=[period], limit=limit)
            moves = balance_moves(con, periods=[period], limit=limit, types=["asset"])
            assert moves == reference(con, ACCOUNT_MOVES, periods=[period], limit=limit, types=["asset"])
        shown = [r[3] for r in income_lines(con, periods=[period], limit=10) if r[1] == revenue]
        assert shown == sorted(f"JE-TIE-{100 - n:03d}" for n in range(30))[:10]
