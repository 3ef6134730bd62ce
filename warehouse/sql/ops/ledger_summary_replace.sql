-- Replace one source's ledger summary with the rows registered as _summary. $1: the source.
delete from ledger_summary where source = $1;
insert into ledger_summary select $1, * from _summary;
