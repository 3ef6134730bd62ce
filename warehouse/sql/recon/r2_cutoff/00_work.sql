-- R2's matching runs apart from the run's transaction, in a private in-memory database of its own
-- (warehouse.recon._match_by_cutoff), one cut-off at a time: inside one transaction DuckDB keeps every
-- version of a table replaced or emptied until the commit, so 26 cut-offs' pairs and matches held
-- ~900 MB at scale 100 (issue 21: 1 GiB). This file sets it up from the run's candidate pairs and
-- bank and book lines (10_bank_candidates.sql), handed over as _in_candidates, _in_bank, _in_book.

create table _recon_candidates as select * from _in_candidates;
create table _recon_bank as select * from _in_bank;
create table _recon_book as select * from _in_book;

-- weekdays (Mon-Fri) from 0001-01-01 (a Monday) through d; business days in (a, b] = f(b) - f(a)
create macro _recon_weekdays_through(d) as
    (date_diff('day', DATE '0001-01-01', d) // 7) * 5 + least(date_diff('day', DATE '0001-01-01', d) % 7 + 1, 5);
