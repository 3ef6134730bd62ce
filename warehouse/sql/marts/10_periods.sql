-- periods: the reported months, first_period through the month containing as_of (the open month).
-- days is the length of the month, or for the open month the days elapsed (as_of's day of month);
-- fiscal_year_start is the first day of the fiscal year the month belongs to.

create or replace table periods as
with

settings as (
    select
        strptime(rc.first_period || '-01', '%Y-%m-%d')::date as first_month,
        date_trunc('month', rc.as_of)::date as open_month,
        rc.as_of as as_of,
        rc.fiscal_year_start_month as fiscal_year_start_month,
    from run_context as rc
),

months as (
    select
        unnest(
            generate_series(s.first_month, s.open_month, interval 1 month)
        )::date as period_start,
        s.open_month as open_month,
        s.as_of as as_of,
        s.fiscal_year_start_month as fiscal_year_start_month,
    from settings as s
),

final as (
    select
        strftime(m.period_start, '%Y-%m') as period,
        m.period_start as period_start,
        last_day(m.period_start) as period_end,
        (
            case
                when m.period_start = m.open_month then day(m.as_of)
                else day(last_day(m.period_start))
            end
        )::integer as days,
        m.period_start = m.open_month as is_open,
        make_date(
            year(m.period_start)
            - (case when month(m.period_start) < m.fiscal_year_start_month then 1 else 0 end),
            m.fiscal_year_start_month,
            1
        ) as fiscal_year_start,
    from months as m
)

select * from final
order by period
