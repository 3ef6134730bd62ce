-- R5 bookings vs billings (WARN). Every won opportunity maps to an ERP customer: the same customer_id,
-- else the same case-folded name. Per customer, cumulative to each month-end (company currency):
-- invoiced (issued, not draft, not void by then, credit notes netting) above won by more than
-- bookings_tolerance (a fraction of won) warns; won but not yet invoiced is listed as backlog; a won
-- deal with no invoice to its customer within stale_after_days of its close date warns in the month
-- that window ends. A won deal with no ERP customer warns in the month it closed.
-- expected = won to date, actual = invoiced to date, difference = actual - expected.

create or replace temp table _recon_customers as
select
    i.customer_id as customer_id,
    lower(trim(arg_max(i.customer_name, i.issue_date))) as name_key,
from erp_invoices as i
group by i.customer_id;

create or replace temp table _recon_won as
select
    o.opportunity_id as opportunity_id,
    o.close_date as close_date,
    o.amount as amount,
    o.currency as currency,
    o.customer_id as crm_customer_id,
    o.customer_name as customer_name,
    coalesce(
        (select c.customer_id from _recon_customers as c where c.customer_id = o.customer_id),
        (select min(c.customer_id) from _recon_customers as c where c.name_key = lower(trim(o.customer_name)))
    ) as customer_id,
from crm_opportunities as o
where o.is_won;

insert into _recon_items
select
    _recon_period(coalesce(w.close_date, b.as_of)),
    'R5_bookings_vs_billings',
    'crm',
    w.opportunity_id,
    w.close_date,
    w.amount,
    'won deal with no ERP customer (customer_id ' || coalesce(w.crm_customer_id, 'none')
    || ', name ' || coalesce(w.customer_name, 'none') || ')',
from _recon_won as w
cross join _recon_bounds as b
where w.customer_id is null;

-- deals that should have been invoiced by now: closed inside the reported range, window ended
create or replace temp table _recon_unbilled_deals as
select w.*, (w.close_date + p.stale_after_days)::date as window_end
from _recon_won as w
cross join recon_params as p
cross join _recon_bounds as b
where w.customer_id is not null
    and w.close_date >= b.first_month
    and w.close_date + p.stale_after_days <= b.as_of
    and not exists (
        select 1 from erp_invoices as i
        where i.customer_id = w.customer_id
            and i.status <> 'draft'
            and i.issue_date between w.close_date and w.close_date + p.stale_after_days
    );

insert into _recon_items
select
    _recon_period(u.window_end),
    'R5_bookings_vs_billings',
    'crm',
    u.opportunity_id,
    u.close_date,
    u.amount,
    'won deal for ' || u.customer_id || ' not invoiced within ' || p.stale_after_days || ' days of its close date',
from _recon_unbilled_deals as u
cross join recon_params as p;

create or replace temp table _recon_r5_customers as
with

won as (
    select co.period as period, w.customer_id as customer_id, sum(w.amount) as won
    from _recon_cutoffs as co
    inner join _recon_won as w
        on w.close_date <= co.cutoff
    cross join _recon_bounds as b
    where w.customer_id is not null and w.currency = b.currency and not co.is_opening
    group by all
),

invoiced as (
    select co.period as period, i.customer_id as customer_id, sum(i.total) as invoiced
    from _recon_cutoffs as co
    inner join erp_invoices as i
        on i.issue_date <= co.cutoff
    cross join _recon_bounds as b
    where not co.is_opening
        and i.status <> 'draft'
        and i.currency = b.currency
        and not (
            case when i.status = 'void' then coalesce(i.voided_date, i.issue_date) else i.voided_date end
            <= co.cutoff
        ) is true
    group by all
)

select
    coalesce(w.period, iv.period) as period,
    co.cutoff as cutoff,
    coalesce(w.customer_id, iv.customer_id) as customer_id,
    coalesce(w.won, 0)::decimal(18, 2) as won,
    coalesce(iv.invoiced, 0)::decimal(18, 2) as invoiced,
from won as w
full outer join invoiced as iv
    on iv.period = w.period and iv.customer_id = w.customer_id
inner join _recon_cutoffs as co
    on co.period = coalesce(w.period, iv.period);

insert into _recon_items
select
    c.period,
    'R5_bookings_vs_billings',
    'erp',
    c.customer_id,
    c.cutoff,
    (c.invoiced - c.won)::decimal(18, 2),
    'invoiced ' || c.invoiced || ' to ' || c.cutoff::varchar || ' is above won ' || c.won
    || ' by more than ' || (p.bookings_tolerance * 100)::decimal(9, 2) || '%',
from _recon_r5_customers as c
cross join recon_params as p
where c.invoiced - c.won > c.won * p.bookings_tolerance;

insert into _recon_items
select
    c.period,
    'R5_bookings_vs_billings',
    'erp',
    c.customer_id,
    c.cutoff,
    (c.won - c.invoiced)::decimal(18, 2),
    'backlog: won ' || c.won || ', invoiced ' || c.invoiced || ' to ' || c.cutoff::varchar,
from _recon_r5_customers as c
where c.won > c.invoiced;

insert into _recon_results
with

totals as (
    select c.period as period, sum(c.won) as won, sum(c.invoiced) as invoiced
    from _recon_r5_customers as c
    group by all
),

findings as (
    select
        i.period as period,
        count(*) filter (where i.reason like 'won deal%') as deals,
        count(*) filter (where i.reason like 'invoiced%') as over_invoiced,
        count(*) filter (where i.reason like 'backlog%') as backlog,
    from _recon_items as i
    where i.check_id = 'R5_bookings_vs_billings'
    group by all
)

select
    co.period,
    'R5_bookings_vs_billings',
    case when coalesce(f.deals, 0) + coalesce(f.over_invoiced, 0) > 0 then 'warn' else 'pass' end,
    coalesce(t.won, 0)::decimal(18, 2),
    coalesce(t.invoiced, 0)::decimal(18, 2),
    (coalesce(t.invoiced, 0) - coalesce(t.won, 0))::decimal(18, 2),
    'won to date ' || coalesce(t.won, 0)::decimal(18, 2) || ', invoiced to date '
    || coalesce(t.invoiced, 0)::decimal(18, 2) || '; ' || coalesce(f.over_invoiced, 0)
    || ' customer(s) invoiced above won; ' || coalesce(f.deals, 0)
    || ' won deal(s) unmapped or not invoiced in time; ' || coalesce(f.backlog, 0) || ' customer(s) with backlog',
from _recon_cutoffs as co
left join totals as t
    on t.period = co.period
left join findings as f
    on f.period = co.period
where not co.is_opening;
