-- open_documents() once per render (reports/tables.py `open_documents_once`): the page reads the
-- open documents in four places (the open invoices and bills due tables, top customers' "still
-- owed", the AR aging chart), and the macro (warehouse/sql/marts/00_functions.sql) recomputes them
-- every time. The renderer keeps one copy in a temp table of its own connection for the render and
-- points the macro at it; afterwards it reloads the warehouse's macro and drops the copy. A temp
-- table, not a mart: it is computed from the tables the render reads, so it can never be older than
-- they are (a mart would have to be rebuilt by every step that changes documents).
--
-- A render on a writable warehouse keeps its copy (kept_open_documents, under the fingerprint of its
-- inputs: warehouse/sql/ops/open_documents_replace.sql) for the next render to read back
-- (_open_documents_kept.sql) while nothing it reads changed.
create or replace temp table page_open_documents as
select * from open_documents();
