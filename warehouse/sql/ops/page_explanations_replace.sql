-- The page's explanations ($2, JSON text) under their inputs' fingerprint $1, in place of the stored ones.
delete from page_explanations;
insert into page_explanations values ($1, $2);
