-- The national interface (issue 14): the answer to every message by its msgid, operators'
-- sign-ins, and the visits hospitals open, upload fee lines to and settle.
CREATE TABLE interface_messages (
    institution_code TEXT NOT NULL,
    msgid            TEXT NOT NULL,
    infno            TEXT NOT NULL,
    input_sha256     TEXT NOT NULL,
    input            TEXT NOT NULL,
    answer           TEXT NOT NULL,
    answered_at      TEXT NOT NULL,
    PRIMARY KEY (institution_code, msgid)
);

CREATE TABLE interface_sign_ins (
    sign_no          TEXT PRIMARY KEY,
    institution_code TEXT NOT NULL,
    opter            TEXT NOT NULL,
    signed_in_at     TEXT NOT NULL,
    signed_out_at    TEXT
);

CREATE TABLE visits (
    institution_code TEXT NOT NULL,
    mdtrt_id         TEXT NOT NULL,
    person_id        TEXT NOT NULL,
    revision         BIGINT NOT NULL CHECK (revision > 0),
    state            TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (institution_code, mdtrt_id)
);

-- An institution's settlements and cancellations by day, for its reconciliation (3201/3202).
CREATE INDEX claims_by_institution ON claims (institution_code, settled_at);
CREATE INDEX claims_reversed_by_institution ON claims (institution_code, reversed_at) WHERE reversed_at IS NOT NULL;

-- A referral's cancellation (2502): a record of its own beside the immutable referral.
CREATE TABLE referral_cancellations (
    region_code  TEXT NOT NULL,
    person_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    cancelled_by TEXT NOT NULL,
    cancelled_at TEXT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id, seq),
    FOREIGN KEY (region_code, person_id, seq) REFERENCES referrals (region_code, person_id, seq)
);
CREATE TRIGGER referral_cancellations_immutable BEFORE UPDATE OR DELETE ON referral_cancellations FOR EACH ROW EXECUTE FUNCTION referrals_immutable();
