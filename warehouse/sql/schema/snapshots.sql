-- The monthly close history (DESIGN "Snapshot history and the monthly close"): append-only.
--
-- close_snapshots holds one row per period and version. A version is never changed or removed:
-- signing off appends a `closed` version, and a later change of a closed month's figures appends a
-- `restated` one. The only writer is warehouse.snapshots (it only INSERTs). DuckDB has no triggers,
-- so the database itself refuses changes this way:
--   * row_digest is the md5 of every other column, held true by a CHECK constraint: a row whose
--     content does not match its digest cannot be inserted;
--   * close_snapshot_seals holds (period, version, row_digest) of every row, written in the same
--     transaction, with a FOREIGN KEY onto close_snapshots. DuckDB refuses to DELETE or TRUNCATE a
--     row that a foreign key references, refuses to DROP the table, and (because an UPDATE of a row
--     with a unique key referenced by a foreign key is run as delete + insert) refuses an UPDATE of
--     any column. tests/warehouse/test_snapshots.py tries each of these.
-- What is not prevented: deleting the seal first (a deliberate two-step act that the seals' own
-- row count, equal to close_snapshots', makes visible) or replacing the whole file.
-- Amounts inside the JSON columns are decimal strings ("1234.50"), never JSON numbers.

create table if not exists close_snapshots (
    period          varchar not null,      -- 'YYYY-MM'
    version         integer not null,      -- 1, 2, ... per period
    run_id          varchar not null,      -- the run that appended this version
    taken_at        timestamptz not null,
    status          varchar not null,      -- draft, closed, restated
    kpis            varchar not null,      -- JSON {kpi: "decimal" | null}
    statements      varchar not null,      -- JSON {"pnl": [...], "balance_sheet": [...]}
    checks          varchar not null,      -- JSON [{check_id, status, expected, actual, difference, detail}]
    source_fingerprint varchar not null,   -- md5 of the ledger figures and ERROR verdicts
    page_path       varchar,               -- archived page, relative to the reports folder
    closed_by       varchar,
    closed_at       timestamptz,
    override_reason varchar,
    differences     varchar,               -- JSON, restated versions only
    row_digest      varchar not null,
    primary key (period, version),
    unique (period, version, row_digest),
    check (regexp_full_match(period, '\d{4}-(0[1-9]|1[0-2])')),
    check (version >= 1),
    check (status in ('draft', 'closed', 'restated')),
    check ((status = 'closed') = (closed_by is not null and closed_at is not null)),
    check (status = 'closed' or override_reason is null),
    check ((status = 'restated') = (differences is not null)),
    check (
        row_digest = md5(concat_ws(
            chr(31),
            period,
            version::varchar,
            run_id,
            epoch_us(taken_at)::varchar,
            status,
            kpis,
            statements,
            checks,
            source_fingerprint,
            coalesce(page_path, chr(0)),
            coalesce(closed_by, chr(0)),
            coalesce(epoch_us(closed_at)::varchar, chr(0)),
            coalesce(override_reason, chr(0)),
            coalesce(differences, chr(0))
        ))
    )
);

create table if not exists close_snapshot_seals (
    period          varchar not null,
    version         integer not null,
    row_digest      varchar not null,
    sealed_at       timestamptz not null,
    primary key (period, version),
    foreign key (period, version, row_digest) references close_snapshots (period, version, row_digest)
);
