-- Append one close_snapshots row; row_digest is computed exactly as the table's CHECK requires
-- (keep the two expressions identical: a mismatch makes the insert fail, never a silent row).
insert into close_snapshots
select
    r.*,
    md5(concat_ws(
        chr(31),
        r.period,
        r.version::varchar,
        r.run_id,
        epoch_us(r.taken_at)::varchar,
        r.status,
        r.kpis,
        r.statements,
        r.checks,
        r.source_fingerprint,
        coalesce(r.page_path, chr(0)),
        coalesce(r.closed_by, chr(0)),
        coalesce(epoch_us(r.closed_at)::varchar, chr(0)),
        coalesce(r.override_reason, chr(0)),
        coalesce(r.differences, chr(0))
    )) as row_digest,
from (
    select
        $period::varchar as period,
        $version::integer as version,
        $run_id::varchar as run_id,
        $taken_at::timestamptz as taken_at,
        $status::varchar as status,
        $kpis::varchar as kpis,
        $statements::varchar as statements,
        $checks::varchar as checks,
        $source_fingerprint::varchar as source_fingerprint,
        $page_path::varchar as page_path,
        $closed_by::varchar as closed_by,
        $closed_at::timestamptz as closed_at,
        $override_reason::varchar as override_reason,
        $differences::varchar as differences,
) as r;

-- the seal: its foreign key is what makes the row above impossible to update or delete
insert into close_snapshot_seals
select s.period, s.version, s.row_digest, s.taken_at,
from close_snapshots as s
where s.period = $period and s.version = $version;
