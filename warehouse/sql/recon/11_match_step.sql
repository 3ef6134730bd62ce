-- R2 matching, one round (warehouse.recon repeats it until no pair is left): take every pair that
-- ranks first among the remaining pairs of both its bank line and its book line at that cut-off,
-- then drop the remaining pairs that share a line with a pair just taken. With a strict ranking this
-- gives exactly the greedy one-to-one matching in rank order (the global best pair is always taken).

create or replace temp table _recon_new as
select p.* exclude (best_bank, best_book)
from (
    select
        pr.*,
        min(pr.k) over (partition by pr.period, pr.txn_id) as best_bank,
        min(pr.k) over (partition by pr.period, pr.entry_id, pr.line_no) as best_book,
    from _recon_pairs as pr
) as p
where p.k = p.best_bank and p.k = p.best_book;

insert into _recon_matched select * from _recon_new;

delete from _recon_pairs as pr
where exists (
    select 1 from _recon_new as n
    where n.period = pr.period and n.txn_id = pr.txn_id
)
or exists (
    select 1 from _recon_new as n
    where n.period = pr.period and n.entry_id = pr.entry_id and n.line_no = pr.line_no
);
