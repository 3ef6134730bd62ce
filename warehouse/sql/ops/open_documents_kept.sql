-- The fingerprint the page's kept open documents were computed under (none: nothing kept).
select digest from kept_open_documents_inputs;
