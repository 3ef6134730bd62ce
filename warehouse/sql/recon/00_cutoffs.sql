-- The month-ends every check is computed at: one per reported period (the open month: the run date),
-- plus the opening cut-off, the day before first_period, where R2 measures its opening difference.
-- Reads run_context (as the marts do) and recon_params (written by warehouse.recon for this run).

create or replace temp table _recon_bounds as
select
    strptime(rc.first_period || '-01', '%Y-%m-%d')::date as first_month,
    date_trunc('month', rc.as_of)::date as open_month,
    rc.as_of as as_of,
    rc.currency as currency,
from run_context as rc;

create or replace temp table _recon_cutoffs as
with months as (
    select
        unnest(generate_series(b.first_month, b.open_month, interval 1 month))::date as period_start,
        b.open_month as open_month,
        b.as_of as as_of,
    from _recon_bounds as b
)
select
    strftime(m.period_start, '%Y-%m') as period,
    (case when m.period_start = m.open_month then m.as_of else last_day(m.period_start) end)::date as cutoff,
    false as is_opening,
    m.period_start = m.open_month as is_open,
    m.period_start = (m.open_month - interval 1 month)::date as is_latest_ended,
from months as m
union all
select
    strftime(b.first_month - interval 1 day, '%Y-%m') as period,
    (b.first_month - interval 1 day)::date as cutoff,
    true as is_opening,
    false as is_open,
    false as is_latest_ended,
from _recon_bounds as b;

-- where a dated finding is reported: its own month, clamped to the reported range
create or replace temp macro _recon_period(d) as
    strftime(
        least(greatest(date_trunc('month', d)::date, (select first_month from _recon_bounds)),
              (select open_month from _recon_bounds)),
        '%Y-%m'
    );

create or replace temp table _recon_results (
    period varchar, check_id varchar, status varchar,
    expected decimal(18, 2), actual decimal(18, 2), difference decimal(18, 2), detail varchar
);
create or replace temp table _recon_items (
    period varchar, check_id varchar, source varchar, record_id varchar,
    record_date date, amount decimal(18, 2), reason varchar
);
