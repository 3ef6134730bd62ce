-- The figures a close snapshot keeps, one row per period in `_snapshot_periods` (a temp table of
-- the periods asked for), read from the marts and the latest reconciliation verdicts
-- (`_snapshot_recon`, a temp view over recon_results, empty before reconciliation exists):
--   kpis           JSON {kpi: "decimal" | null}, every KPI of mart_kpis
--   statements     JSON {"pnl": [{account_id, account_name, type, subtype, amount}],
--                        "balance_sheet": [{account_id, account_name, type, balance}]}
--   checks         JSON [{check_id, status, expected, actual, difference, detail}]
--   source_fingerprint  md5 of what a version stands for: the ledger KPIs, every account's amount
--                  or balance, and the ERROR checks that fail. Point-in-time values are left out
--                  (pipeline_open and bookings_won come from the CRM as of the refresh; WARN
--                  verdicts, freshness and item ages move with the calendar; account names are
--                  labels), so an unchanged ledger never makes a new version of a past month.
-- Amounts are decimal strings; objects and arrays are built in a fixed order so equal figures
-- give equal text.

with

asked as (
    select distinct sp.period as period,
    from _snapshot_periods as sp
    inner join periods as p
        on p.period = sp.period
),

kpi_rows as (
    select
        k.period as period,
        k.kpi as kpi,
        k.value as value,
        k.kpi not in ('pipeline_open', 'bookings_won') as is_ledger,
    from mart_kpis as k
    inner join asked as a
        on a.period = k.period
),

kpis as (
    select
        kr.period as period,
        '{' || string_agg(
            to_json(kr.kpi) || ':' || coalesce(to_json(kr.value::varchar), 'null'), ',' order by kr.kpi
        ) || '}' as kpis,
        string_agg(
            kr.kpi || '=' || coalesce(kr.value::varchar, 'null'), ';' order by kr.kpi
        ) filter (where kr.is_ledger) as ledger_kpis,
    from kpi_rows as kr
    group by kr.period
),

pnl as (
    select
        m.period as period,
        '[' || string_agg(
            json_object(
                'account_id', m.account_id,
                'account_name', m.account_name,
                'type', m.type,
                'subtype', m.subtype,
                'amount', m.amount::varchar
            )::varchar,
            ',' order by m.account_id
        ) || ']' as rows_json,
        string_agg(m.account_id || '=' || m.amount::varchar, ';' order by m.account_id) as figures,
    from mart_pnl_monthly as m
    inner join asked as a
        on a.period = m.period
    group by m.period
),

balance_sheet as (
    select
        b.period as period,
        '[' || string_agg(
            json_object(
                'account_id', b.account_id,
                'account_name', b.account_name,
                'type', b.type,
                'balance', b.balance::varchar
            )::varchar,
            ',' order by b.account_id
        ) || ']' as rows_json,
        string_agg(b.account_id || '=' || b.balance::varchar, ';' order by b.account_id) as figures,
    from mart_balance_sheet as b
    inner join asked as a
        on a.period = b.period
    group by b.period
),

checks as (
    select
        r.period as period,
        '[' || string_agg(
            json_object(
                'check_id', r.check_id,
                'status', r.status,
                'expected', r.expected::varchar,
                'actual', r.actual::varchar,
                'difference', r.difference::varchar,
                'detail', r.detail
            )::varchar,
            ',' order by r.check_id, r.status, r.detail
        ) || ']' as checks,
        string_agg(distinct r.check_id, ',' order by r.check_id)
            filter (where r.status = 'fail') as failing,
    from _snapshot_recon as r
    inner join asked as a
        on a.period = r.period
    group by r.period
)

select
    a.period as period,
    coalesce(k.kpis, '{}') as kpis,
    '{"pnl":' || coalesce(pnl.rows_json, '[]')
        || ',"balance_sheet":' || coalesce(bs.rows_json, '[]') || '}' as statements,
    coalesce(c.checks, '[]') as checks,
    md5(
        'kpis:' || coalesce(k.ledger_kpis, '')
        || '|pnl:' || coalesce(pnl.figures, '')
        || '|bs:' || coalesce(bs.figures, '')
        || '|failing:' || coalesce(c.failing, '')
    ) as source_fingerprint,
from asked as a
left join kpis as k
    on k.period = a.period
left join pnl
    on pnl.period = a.period
left join balance_sheet as bs
    on bs.period = a.period
left join checks as c
    on c.period = a.period
order by a.period
