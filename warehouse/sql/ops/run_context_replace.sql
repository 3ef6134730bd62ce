-- The one row of settings the marts are built for. $1 first period, $2 report date, $3 fiscal-year
-- start month, $4 currency.
delete from run_context;
insert into run_context values ($1, $2, $3, $4);
