-- Open pipeline by stage as of the refresh (a point-in-time figure: the CRM keeps no stage
-- history), in the company currency; weighted = amount x probability.
select
    o.stage as stage,
    count(*)::integer as opportunities,
    sum(o.amount)::decimal(18, 2) as amount,
    sum(o.amount * coalesce(o.probability, 0) / 100)::decimal(18, 2) as weighted,
from crm_opportunities as o
cross join run_context as rc
where not o.is_closed
    and o.currency = rc.currency
group by o.stage
order by
    case o.stage
        when 'prospecting' then 1
        when 'qualification' then 2
        when 'proposal' then 3
        when 'negotiation' then 4
        else 5
    end,
    o.stage
