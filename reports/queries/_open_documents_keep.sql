-- The render's open documents kept in the warehouse for the next render (reports/tables.py
-- `open_documents_once`); its fingerprint is set as the table's comment right after.
create or replace table main.kept_open_documents as
select * from temp.page_open_documents;
