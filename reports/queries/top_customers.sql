-- The ten customers billed the most in the twelve months up to each period's cutoff (invoices net of
-- credit notes, not drafts, not void by the cutoff), in the company currency, with what they still
-- owe at the cutoff. Only the customers billed at least as much as a period's tenth are ranked, their
-- share of the period's billing taken from its total, and what is still owed looked up for the ten
-- (issue 21: ranking every customer of every period with what each owes cost the page's render
-- 0.2 s at scale 100).
with

billed as (
    select
        c.period as period,
        i.customer_id as customer_id,
        arg_max(i.customer_name, i.issue_date) as customer,
        count(*) filter (where i.doc_type = 'invoice')::integer as invoices,
        sum(i.total)::decimal(18, 2) as billed_12m,
    from calendar() as c
    cross join run_context as rc
    inner join erp_invoices as i
        on i.issue_date <= c.cutoff
        and i.issue_date > (c.cutoff - interval 12 month)::date
        and i.currency = rc.currency
        and i.status <> 'draft'
        and not (i.status = 'void' and (i.voided_date is null or i.voided_date <= c.cutoff))
    group by c.period, i.customer_id
),

-- per period: the total billed, and the tenth largest customer's billing (only those at least that
-- large, ties kept, are ranked)
period_totals as (
    select b.period as period, sum(b.billed_12m) as billed, list_min(max(b.billed_12m, 10)) as tenth,
    from billed as b
    group by b.period
),

ranked as (
    select
        b.*,
        row_number() over (partition by b.period order by b.billed_12m desc, b.customer_id) as rank,
    from billed as b
    semi join period_totals as t
        on t.period = b.period
        and b.billed_12m >= t.tenth
    qualify rank <= 10
),

owed as (
    select
        od.period as period,
        od.party_id as customer_id,
        sum(od.open_balance)::decimal(18, 2) as open_balance,
    from open_documents() as od
    cross join run_context as rc
    semi join ranked as r
        on r.period = od.period
        and r.customer_id = od.party_id
    where od.kind = 'ar'
        and od.currency = rc.currency
    group by all
)

select
    r.period as period,
    r.rank::integer as rank,
    r.customer as customer,
    r.invoices as invoices,
    r.billed_12m as billed_12m,
    round(100 * r.billed_12m / nullif(t.billed, 0), 1)::decimal(5, 1) as share_pct,
    coalesce(o.open_balance, 0)::decimal(18, 2) as open_balance,
from ranked as r
inner join period_totals as t
    on t.period = r.period
left join owed as o
    on o.period = r.period
    and o.customer_id = r.customer_id
order by r.period, r.rank
