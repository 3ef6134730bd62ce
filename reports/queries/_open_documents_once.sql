-- open_documents() once per render (reports/tables.py `open_documents_once`): the page reads the
-- open documents in four places (the open invoices and bills due tables, top customers' "still
-- owed", the AR aging chart), and the macro (warehouse/sql/marts/00_functions.sql) recomputes them
-- every time. The renderer keeps one copy in a temp table of its own connection for the render and
-- points the macro at it; afterwards it reloads the warehouse's macro and drops the copy. A temp
-- table, not a mart: it is computed from the tables the render reads, so it can never be older than
-- they are (a mart would have to be rebuilt by every step that changes documents).
create or replace temp table page_open_documents as
select * from open_documents();

create or replace temp macro open_documents(from_period := null) as table
select * from page_open_documents as od
where from_period is null or od.period >= from_period;
