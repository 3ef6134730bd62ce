-- open_documents() once per render, read back (reports/tables.py `open_documents_once`): the copy a
-- render before this one kept in the warehouse (kept_open_documents), taken when everything the open
-- documents are a function of is as it was then (the tables they read, the macros' SQL, DuckDB).
create or replace temp table page_open_documents as
select * from main.kept_open_documents;
