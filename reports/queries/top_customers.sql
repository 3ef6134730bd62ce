-- The ten customers billed the most in the twelve months up to each period's cutoff (invoices net of
-- credit notes, not drafts, not void by the cutoff), in the company currency, with what they still
-- owe at the cutoff.
with

billed as (
    select
        c.period as period,
        i.customer_id as customer_id,
        any_value(i.customer_name order by i.issue_date desc) as customer,
        count(*) filter (where i.doc_type = 'invoice')::integer as invoices,
        sum(i.total)::decimal(18, 2) as billed_12m,
    from calendar() as c
    cross join run_context as rc
    inner join erp_invoices as i
        on i.issue_date <= c.cutoff
        and i.issue_date > c.cutoff - interval 12 month
        and i.currency = rc.currency
        and i.status <> 'draft'
        and not (i.status = 'void' and (i.voided_date is null or i.voided_date <= c.cutoff))
    group by c.period, i.customer_id
),

owed as (
    select
        od.period as period,
        od.party_id as customer_id,
        sum(od.open_balance)::decimal(18, 2) as open_balance,
    from open_documents() as od
    cross join run_context as rc
    where od.kind = 'ar'
        and od.currency = rc.currency
    group by all
),

ranked as (
    select
        b.*,
        coalesce(o.open_balance, 0)::decimal(18, 2) as open_balance,
        round(100 * b.billed_12m / nullif(sum(b.billed_12m) over (partition by b.period), 0), 1)::decimal(5, 1) as share_pct,
        row_number() over (partition by b.period order by b.billed_12m desc, b.customer_id) as rank,
    from billed as b
    left join owed as o
        on o.period = b.period
        and o.customer_id = b.customer_id
)

select
    r.period as period,
    r.rank::integer as rank,
    r.customer as customer,
    r.invoices as invoices,
    r.billed_12m as billed_12m,
    r.share_pct as share_pct,
    r.open_balance as open_balance,
from ranked as r
where r.rank <= 10
order by r.period, r.rank
