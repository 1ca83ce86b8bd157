-- The fund books (R-FND-1, R-SCH-2): accounts with their posted totals, and immutable
-- transfers, posted in the same transaction as the business record that caused them.
-- region_code is the fund's region (the city under city-level pooling), the distribution
-- column; unit_code is the county (or the city itself) whose business caused a transfer.
CREATE TABLE ledger_accounts (
    region_code        TEXT NOT NULL,
    fund_scheme        TEXT NOT NULL,
    holder             TEXT NOT NULL,
    kind               TEXT NOT NULL,
    no_overdraft       INTEGER NOT NULL CHECK (no_overdraft IN (0, 1)),
    opened_on          TEXT NOT NULL,
    debits_posted_fen  INTEGER NOT NULL CHECK (debits_posted_fen >= 0),
    credits_posted_fen INTEGER NOT NULL CHECK (credits_posted_fen >= 0),
    PRIMARY KEY (region_code, fund_scheme, holder, kind)
);

CREATE TABLE ledger_transfers (
    region_code   TEXT NOT NULL,
    transfer_id   TEXT NOT NULL,
    fund_scheme   TEXT NOT NULL,
    debit_holder  TEXT NOT NULL,
    debit_kind    TEXT NOT NULL,
    credit_holder TEXT NOT NULL,
    credit_kind   TEXT NOT NULL,
    amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
    reason        TEXT NOT NULL,
    cause_kind    TEXT NOT NULL,
    cause_id      TEXT NOT NULL,
    value_date    TEXT NOT NULL,
    reverses      TEXT,
    pair_id       TEXT,
    unit_code     TEXT NOT NULL,
    posted_at     TEXT NOT NULL,
    PRIMARY KEY (region_code, transfer_id)
);
CREATE INDEX ledger_transfers_by_cause ON ledger_transfers (region_code, cause_kind, cause_id);
CREATE INDEX ledger_transfers_by_reverses ON ledger_transfers (region_code, reverses) WHERE reverses IS NOT NULL;
CREATE INDEX ledger_transfers_by_date ON ledger_transfers (region_code, value_date);
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'transfers are immutable: post a reversal'); END;
CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers BEGIN SELECT RAISE(ABORT, 'transfers are immutable: post a reversal'); END;

-- One pooling run per city and month (R-FND-2): what it moved, and why.
CREATE TABLE pooling_runs (
    region_code TEXT NOT NULL,
    month       TEXT NOT NULL,
    run_at      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    result      TEXT NOT NULL,
    PRIMARY KEY (region_code, month)
);

-- One year-end close per city and year (R-FND-4, R-FND-5): the levy, the deficit waterfall
-- and the indicators, with every amount explained.
CREATE TABLE year_closes (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    run_at      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    result      TEXT NOT NULL,
    PRIMARY KEY (region_code, year)
);

-- Yearly budgets per fund and unit (R-FND-3); execution is read from the transfers.
CREATE TABLE fund_budgets (
    region_code  TEXT NOT NULL,
    year         INTEGER NOT NULL,
    fund_scheme  TEXT NOT NULL,
    unit_code    TEXT NOT NULL,
    income_fen   INTEGER NOT NULL CHECK (income_fen >= 0),
    spending_fen INTEGER NOT NULL CHECK (spending_fen >= 0),
    set_at       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    PRIMARY KEY (region_code, year, fund_scheme, unit_code)
);

-- Fund handovers (R-FND-7): the signed inventory, and who confirmed it.
CREATE TABLE fund_handovers (
    region_code  TEXT NOT NULL,
    reference    TEXT NOT NULL,
    inventory    TEXT NOT NULL,
    prepared_by  TEXT NOT NULL,
    confirmed_by TEXT,
    PRIMARY KEY (region_code, reference)
);

-- Counties' legacy deficits (R-FND-6): the request as established; repayments are transfers.
CREATE TABLE legacy_deficits (
    region_code    TEXT NOT NULL,
    fund_scheme    TEXT NOT NULL,
    unit_code      TEXT NOT NULL,
    request        TEXT NOT NULL,
    established_by TEXT NOT NULL,
    PRIMARY KEY (region_code, fund_scheme, unit_code)
);

-- Counties' yearly targets (R-ENR-6): persons to insure and contributions to collect.
CREATE TABLE county_targets (
    region_code           TEXT NOT NULL,
    year                  INTEGER NOT NULL,
    unit_code             TEXT NOT NULL,
    enrolment_target      INTEGER NOT NULL CHECK (enrolment_target >= 0),
    collection_target_fen INTEGER NOT NULL CHECK (collection_target_fen >= 0),
    set_at                TEXT NOT NULL,
    actor                 TEXT NOT NULL,
    PRIMARY KEY (region_code, year, unit_code)
);
