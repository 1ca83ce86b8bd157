-- Yibao schema, PostgreSQL. Every regional row carries region_code in its key so that the
-- same schema can be distributed by region (Citus: create_distributed_table(<t>,
-- 'region_code') for households, persons, accumulators, claims, audit_log, audit_heads);
-- person_index and claim_keys are the two global uniqueness guards (create_reference_table).
--
-- Types: codes and ids TEXT; money in fen and sequence numbers BIGINT; years INTEGER.
-- coverage and accumulator states are JSONB (read back through serde, so key order does not
-- matter). The claim as submitted and its settlement are TEXT: the claim is compared byte for
-- byte on a retry and the settlement is returned byte-identical, which JSONB would not keep.
-- Times are TEXT (RFC 3339, as the actor gave them) so the audit hash input is the same on
-- every backend.
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
    coverage     JSONB NOT NULL,          -- the engine's Coverage
    enrolled_at  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id),
    FOREIGN KEY (region_code, household_id) REFERENCES households (region_code, household_id)
);
-- text_pattern_ops: the name prefix search (LIKE 'x%') can use the index whatever the
-- database's collation.
CREATE INDEX persons_by_name ON persons (region_code, name text_pattern_ops);
CREATE INDEX persons_by_card ON persons (region_code, card_no);
CREATE INDEX persons_by_household ON persons (region_code, household_id);

-- Year-to-date counters per person and year (the engine's Accumulators). The row is also
-- the lock that serialises the person's settlements and reversals for the year.
CREATE TABLE accumulators (
    region_code TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    year        INTEGER NOT NULL,
    state       JSONB NOT NULL,
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
    medfee_fen       BIGINT NOT NULL CHECK (medfee_fen >= 0),
    fund_pay_fen     BIGINT NOT NULL CHECK (fund_pay_fen >= 0),
    psn_part_fen     BIGINT NOT NULL CHECK (psn_part_fen >= 0),
    settlement       TEXT NOT NULL,           -- returned byte-identical on a replay
    claim            TEXT NOT NULL,           -- compared byte for byte on a retry
    acc_before       JSONB NOT NULL,
    acc_after        JSONB NOT NULL,
    reversed_at      TEXT,
    reversal_reason  TEXT,
    PRIMARY KEY (region_code, institution_code, claim_id),
    CHECK (medfee_fen >= fund_pay_fen)
);
CREATE INDEX claims_by_person ON claims (region_code, person_id, settled_at);

-- R-SYS-6: append-only audit log, one SHA-256 chain per region.
CREATE TABLE audit_log (
    region_code TEXT NOT NULL,
    seq         BIGINT NOT NULL,
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
-- The head of each region's chain; its row lock orders the region's audit entries.
CREATE TABLE audit_heads (
    region_code TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
