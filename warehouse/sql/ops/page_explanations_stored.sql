-- The page's explanations stored under fingerprint $1, if those are the ones stored.
select explanations from page_explanations where digest = $1
