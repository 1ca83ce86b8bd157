-- Referrals (转诊) on file: a claim's referral and the deductible already paid before it
-- come from here, never from the claim (issue 11).
CREATE TABLE referrals (
    region_code      TEXT NOT NULL,
    person_id        TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    from_institution TEXT NOT NULL,
    to_institution   TEXT NOT NULL,
    issued_on        TEXT NOT NULL,
    valid_until      TEXT NOT NULL,
    filed_by         TEXT NOT NULL,
    filed_at         TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id, seq)
);
CREATE TRIGGER referrals_immutable_update BEFORE UPDATE ON referrals BEGIN SELECT RAISE(ABORT, 'referrals are immutable'); END;
CREATE TRIGGER referrals_immutable_delete BEFORE DELETE ON referrals BEGIN SELECT RAISE(ABORT, 'referrals are immutable'); END;
