-- Replace one stored summary with the rows registered as _summary. $1: its scope (baseline_summary.sql).
delete from ledger_summary where source = $1;
insert into ledger_summary select $1, * from _summary;
