-- The render's open documents (its temp table page_open_documents) kept under their inputs' fingerprint $1,
-- in place of the kept ones.
create or replace table kept_open_documents as select * from temp.page_open_documents;
delete from kept_open_documents_inputs;
insert into kept_open_documents_inputs values ($1);
