-- A whole pull of one source's tables pulled by months, now. $1: the source, $2: the tables.
insert or replace into full_pulls values ($1, $2, now())
