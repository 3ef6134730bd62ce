-- open_documents() reads the render's copy (page_open_documents, made by _open_documents_once.sql or
-- _open_documents_kept.sql) until the render ends (reports/tables.py `open_documents_once`).
create or replace temp macro open_documents(from_period := null) as table
select * from page_open_documents as od
where from_period is null or od.period >= from_period;
