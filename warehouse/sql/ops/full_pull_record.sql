-- A whole pull of one source's windowed table, now. $1: the source, $2: the table.
insert or replace into full_pulls values ($1, $2, now())
