-- The delivery log (<home>/delivery.duckdb, issue 20): one row per recipient of every month pack and
-- alert that went out, was blocked or failed. A (kind, period, version, rule, recipient) with status
-- 'sent' is never sent again. No secret is kept: a webhook is logged as 'webhook <host>'.
create table if not exists deliveries (
    logged_at   timestamptz not null,
    kind        varchar not null,       -- pack | alert
    period      varchar not null,
    version     integer not null,
    rule        varchar not null,       -- '' for a pack, the alert rule (with its threshold) for an alert
    channel     varchar not null,       -- email | webhook
    recipient   varchar not null,       -- an address, or 'webhook <host>'
    status      varchar not null,       -- sent | blocked | failed
    subject     varchar,
    attachments varchar,                -- file names, comma-separated
    detail      varchar,                -- why blocked or failed, or the override a pack names
    trigger     varchar                 -- what sent it: the sensor, the schedule, the CLI
);
