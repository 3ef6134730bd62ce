-- The latest reconciliation verdicts per period and check, with what a card's first sentence needs:
-- how many items the verdict lists and their sum, the oldest of them (earliest date, then the
-- largest), and where its run of the same verdict began (`since`: the first month of the unbroken
-- run of months with this status that ends here) with that month's first item (earliest date, then
-- the largest): for a failure carried forward, the entry or record that caused it.
with

items as (
    select
        i.period as period,
        i.check_id as check_id,
        i.source as source,
        i.record_id as record_id,
        i.record_date as record_date,
        i.amount as amount,
        i.reason as reason,
        count(*) over (partition by i.period, i.check_id) as items,
        sum(i.amount) over (partition by i.period, i.check_id) as items_total,
    from recon_items as i
    qualify row_number() over (
        partition by i.period, i.check_id
        order by i.record_date nulls last, abs(coalesce(i.amount, 0)) desc, i.record_id
    ) = 1
),

changes as (
    select
        r.*,
        case
            when lag(r.status) over (partition by r.check_id order by r.period) is distinct from r.status
                then 1
            else 0
        end as starts_run,
    from recon_results as r
),

numbered as (
    select
        c.*,
        sum(c.starts_run) over (
            partition by c.check_id order by c.period rows between unbounded preceding and current row
        ) as run_no,
    from changes as c
),

runs as (
    select
        n.*,
        min(n.period) over (partition by n.check_id, n.run_no) as since,
    from numbered as n
)

select
    r.period as period,
    r.check_id as check_id,
    r.status as status,
    r.expected as expected,
    r.actual as actual,
    r.difference as difference,
    r.detail as detail,
    coalesce(i.items, 0)::integer as items,
    i.items_total::decimal(18, 2) as items_total,
    i.record_id as oldest_record,
    i.record_date as oldest_date,
    i.amount as oldest_amount,
    i.reason as oldest_reason,
    r.since as since,
    f.source as since_source,
    f.record_id as since_record,
    f.record_date as since_date,
    f.amount as since_amount,
    f.reason as since_reason,
from runs as r
left join items as i
    on i.period = r.period
    and i.check_id = r.check_id
left join items as f
    on f.period = r.since
    and f.check_id = r.check_id
    and r.since < r.period
order by r.period, r.check_id
