-- Canonical records: the typed, deduplicated tables every adapter feeds (DESIGN "Canonical records").
-- The one declaration of them: connectors/records.py reads this file (tables, columns in order, types,
-- NOT NULL, defaults, keys) for the adapters, the bundled servers and the demo generator, so keep to
-- its shape: one column a line, `);` alone to close a table (tests/test_contract.py).
-- Raw pages land first as raw_<table> (every column VARCHAR, as received, plus _source, _run_id,
-- _loaded_at); publishing casts them into these shapes and sends rows that fail to `quarantine`.
-- Money is DECIMAL(18,2), never a float. A column marked NOT NULL is required: a row without it is
-- quarantined with the reason. Keys (`-- key:`) are enforced by the publish step, which collapses
-- identical copies and quarantines differing ones; they are not PRIMARY KEY constraints, because an
-- ART index makes the delete-and-insert of a million-line table ~4x slower (measured: 11 s vs 2.7 s).

create table if not exists erp_accounts (
    account_id      varchar not null,     -- key
    name            varchar not null,
    type            varchar not null,      -- asset, liability, equity, revenue, expense
    subtype         varchar,               -- cash, ar, ap, cogs, debt, ... or null
    currency        varchar not null,
    parent_id       varchar
);

create table if not exists erp_journal_lines (
    entry_id        varchar not null,
    line_no         integer not null,
    posted_date     date not null,
    account_id      varchar not null,
    debit           decimal(18, 2) not null,
    credit          decimal(18, 2) not null,
    currency        varchar not null,
    amount_currency decimal(18, 2),
    description     varchar,
    customer_id     varchar,
    vendor_id       varchar,
    document_id     varchar
    -- key: (entry_id, line_no)
);

create table if not exists erp_invoices (
    invoice_id      varchar not null,      -- key
    customer_id     varchar not null,
    customer_name   varchar,
    issue_date      date not null,
    due_date        date,
    total           decimal(18, 2) not null,
    balance         decimal(18, 2) not null,
    currency        varchar not null,
    status          varchar not null,      -- draft, open, paid, void
    doc_type        varchar not null default 'invoice',  -- invoice or credit_note
    voided_date     date
);

create table if not exists erp_bills (
    bill_id         varchar not null,      -- key
    vendor_id       varchar not null,
    vendor_name     varchar,
    issue_date      date not null,
    due_date        date,
    total           decimal(18, 2) not null,
    balance         decimal(18, 2) not null,
    currency        varchar not null,
    status          varchar not null,
    doc_type        varchar not null default 'invoice',
    voided_date     date
);

create table if not exists erp_payments (
    payment_id      varchar not null,
    line_no         integer not null default 1,
    document_id     varchar,               -- invoice or bill; null = unapplied cash
    paid_date       date not null,
    amount          decimal(18, 2) not null,
    currency        varchar not null,
    kind            varchar not null default 'payment'   -- payment, refund, credit_applied, write_off
    -- key: (payment_id, line_no)
);

create table if not exists erp_fx_rates (
    currency        varchar not null,
    rate_date       date not null,
    rate            decimal(18, 8) not null
    -- key: (currency, rate_date)
);

-- The ERP's own trial balance (its report, not closeboard's sums) at each month-end, for R7: the
-- cumulative Σdebit and Σcredit of posted lines dated up to balance_date, since inception.
create table if not exists erp_trial_balance (
    balance_date    date not null,
    account_id      varchar not null,
    debit           decimal(18, 2) not null,
    credit          decimal(18, 2) not null
    -- key: (balance_date, account_id)
);

create table if not exists bank_accounts (
    bank_account_id varchar not null,      -- key
    name            varchar,
    currency        varchar not null,
    gl_account_id   varchar not null
);

create table if not exists bank_transactions (
    txn_id          varchar not null,      -- key
    bank_account_id varchar not null,
    booked_date     date not null,
    amount          decimal(18, 2) not null,  -- signed: receipts positive
    description     varchar,
    reference       varchar
);

create table if not exists bank_balances (
    bank_account_id varchar not null,
    balance_date    date not null,
    closing_balance decimal(18, 2) not null
    -- key: (bank_account_id, balance_date)
);

create table if not exists crm_opportunities (
    opportunity_id  varchar not null,      -- key
    customer_id     varchar,
    customer_name   varchar,
    stage           varchar not null,
    amount          decimal(18, 2) not null,
    currency        varchar not null,
    close_date      date,
    probability     decimal(5, 2),
    owner           varchar,
    is_won          boolean not null,
    is_closed       boolean not null
);

-- the budget (optional, the `budget` connector): one amount per month and account (revenue or
-- expense, positive as on the income statement) or per KPI; exactly one of account_id and kpi (the
-- adapter sets other rows aside). In the reporting currency: a row in another one is left out of
-- the budget marts.
create table if not exists budgets (
    period          varchar not null,      -- YYYY-MM
    account_id      varchar,
    kpi             varchar,               -- revenue, cogs, gross_profit, opex, net_income, net_burn
    amount          decimal(18, 2) not null,
    currency        varchar not null
    -- key: (period, account_id, kpi)
);
