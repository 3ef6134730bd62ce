-- AR aging at each period's cutoff, in the company currency: open invoice and credit-note amounts
-- by days overdue (every bucket present in every period, 0.00 where empty).
with

buckets as (
    select * from (
        values
            (1, 'Current', -100000, 0),
            (2, '1-30 days', 1, 30),
            (3, '31-60 days', 31, 60),
            (4, '61-90 days', 61, 90),
            (5, 'Over 90 days', 91, 100000)
    ) as b(bucket_order, bucket, low, high)
),

open_ar as (
    select od.*
    from open_documents() as od
    cross join run_context as rc
    where od.kind = 'ar'
        and od.currency = rc.currency
)

select
    c.period as period,
    b.bucket as bucket,
    count(oa.document_id)::integer as documents,
    coalesce(sum(oa.open_balance), 0)::decimal(18, 2) as amount,
from calendar() as c
cross join buckets as b
left join open_ar as oa
    on oa.period = c.period
    and oa.days_overdue between b.low and b.high
group by c.period, b.bucket, b.bucket_order
order by c.period, b.bucket_order
