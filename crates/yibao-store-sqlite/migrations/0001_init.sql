-- Yibao schema, SQLite. Every regional row carries region_code in its key so that the same
-- schema can be distributed by region; person_index and claim_keys are the two global
-- uniqueness guards (reference tables in a distributed deployment).
CREATE TABLE households (
    region_code  TEXT NOT NULL,
    household_id TEXT NOT NULL,
    address      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (region_code, household_id)
);

-- R-ENR-2: one enrolment in basic medical insurance per national ID, in any region.
CREATE TABLE person_index (
    person_id    TEXT PRIMARY KEY,
    region_code  TEXT NOT NULL,
    household_id TEXT NOT NULL
);

CREATE TABLE persons (
    region_code  TEXT NOT NULL,
    person_id    TEXT NOT NULL,
    household_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    card_no      TEXT,
    coverage     TEXT NOT NULL,           -- the engine's Coverage, JSON
    enrolled_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id),
    FOREIGN KEY (region_code, household_id) REFERENCES households (region_code, household_id)
);
CREATE INDEX persons_by_name ON persons (region_code, name);
CREATE INDEX persons_by_card ON persons (region_code, card_no);
CREATE INDEX persons_by_household ON persons (region_code, household_id);

-- Year-to-date counters per person and year (the engine's Accumulators, JSON).
CREATE TABLE accumulators (
    region_code TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    year        INTEGER NOT NULL,
    state       TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id, year)
);

-- Idempotency: an institution's claim id names one claim, whatever the person's region.
CREATE TABLE claim_keys (
    institution_code TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    region_code      TEXT NOT NULL,
    PRIMARY KEY (institution_code, claim_id)
);

CREATE TABLE claims (
    region_code      TEXT NOT NULL,
    institution_code TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    person_id        TEXT NOT NULL,
    year             INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('settled', 'reversed')),
    settled_at       TEXT NOT NULL,
    medfee_fen       INTEGER NOT NULL CHECK (medfee_fen >= 0),
    fund_pay_fen     INTEGER NOT NULL CHECK (fund_pay_fen >= 0),
    psn_part_fen     INTEGER NOT NULL CHECK (psn_part_fen >= 0),
    settlement       TEXT NOT NULL,
    claim            TEXT NOT NULL,
    acc_before       TEXT NOT NULL,
    acc_after        TEXT NOT NULL,
    reversed_at      TEXT,
    reversal_reason  TEXT,
    PRIMARY KEY (region_code, institution_code, claim_id),
    CHECK (medfee_fen >= fund_pay_fen)
);
CREATE INDEX claims_by_person ON claims (region_code, person_id, settled_at);

-- R-SYS-6: append-only audit log, one SHA-256 chain per region.
CREATE TABLE audit_log (
    region_code TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    source      TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (region_code, seq)
);
CREATE TABLE audit_heads (
    region_code TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,
    hash        TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
