-- R2 matching, one round at one cut-off (warehouse.recon repeats it until no pair is left): take every
-- pair that ranks first among the remaining pairs of both its bank line and its book line, then drop
-- the remaining pairs that share a line with a pair just taken. With a strict ranking this gives
-- exactly the greedy one-to-one matching in rank order (the global best pair is always taken).

-- (k, the pair's rank, is unique: the best pair of a line is the one holding its smallest k)
create or replace table _recon_new as
select pr.*
from _recon_pairs as pr
semi join (select min(k) as k from _recon_pairs group by txn_id) as best_bank
    on best_bank.k = pr.k
semi join (select min(k) as k from _recon_pairs group by entry_id, line_no) as best_book
    on best_book.k = pr.k;

insert into _recon_matched select * from _recon_new;

-- what is left: the pairs that share no line with a pair just taken (this database is outside any
-- transaction, so replacing the table frees the old one)
create or replace table _recon_pairs as
select pr.*
from _recon_pairs as pr
anti join _recon_new as by_bank
    on by_bank.txn_id = pr.txn_id
anti join _recon_new as by_book
    on by_book.entry_id = pr.entry_id and by_book.line_no = pr.line_no;
