-- Review of settled claims (issue 18). A flag intelligent monitoring raised on a claim at
-- settlement (R-INS-2), written with the claim; `hold` keeps the fund's payment of the
-- claim back until the flag is decided; `outcome` is the reviewer's decision, the rule's
-- precision counted from them. `record` is the flag as `yibao_store::review::FlagRecord`.
CREATE TABLE claim_flags (
    institution_code TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    flag_no          BIGINT NOT NULL,
    region_code      TEXT NOT NULL,
    rule_id          TEXT NOT NULL,
    hold             BOOLEAN NOT NULL,
    outcome          TEXT CHECK (outcome IN ('confirmed', 'dismissed')),
    raised_at        TEXT NOT NULL,
    record           TEXT NOT NULL,
    PRIMARY KEY (institution_code, claim_id, flag_no)
);
CREATE INDEX claim_flags_by_region ON claim_flags (region_code, raised_at);
CREATE INDEX claim_flags_held ON claim_flags (region_code) WHERE hold AND outcome IS NULL;

-- A review's finding on a settled claim (R-TPA-2): its deduction is posted with it
-- (`review-deduction`), reversed if an appeal is upheld. `record` is
-- `yibao_store::review::FindingRecord`.
CREATE TABLE review_findings (
    institution_code TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    finding_no       BIGINT NOT NULL,
    region_code      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('standing', 'appealed', 'confirmed', 'withdrawn')),
    found_at         TEXT NOT NULL,
    record           TEXT NOT NULL,
    PRIMARY KEY (institution_code, claim_id, finding_no)
);
CREATE INDEX review_findings_by_region ON review_findings (region_code, found_at);

-- A quarter's measures read a county's claims by the day they were settled.
CREATE INDEX claims_by_region_settled ON claims (region_code, settled_at);

-- Commercial administrators under contract (issue 18, R-TPA-1, R-TPA-3): the contract as
-- `yibao_store::administrator::ContractRecord` with the digest of its API key; the
-- complaints and survey answers its score counts; each scored quarter, once, with what it
-- posted (`administration-fee`).
CREATE TABLE administrator_contracts (
    code         TEXT NOT NULL PRIMARY KEY,
    city_code    TEXT NOT NULL,
    api_key_hash TEXT NOT NULL UNIQUE,
    record       TEXT NOT NULL
);
CREATE TABLE administrator_entries (
    code        TEXT NOT NULL REFERENCES administrator_contracts (code),
    on_date     TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX administrator_entries_by_day ON administrator_entries (code, on_date);
CREATE TABLE administrator_quarters (
    code    TEXT NOT NULL REFERENCES administrator_contracts (code),
    quarter TEXT NOT NULL,
    record  TEXT NOT NULL,
    PRIMARY KEY (code, quarter)
);

-- The movements of an administrator's revolving fund (周转金), each kept as its audit entry
-- keeps it (`yibao_store::administrator::RevolvingBooking`), numbered per scheme.
CREATE TABLE administrator_revolving (
    code   TEXT NOT NULL REFERENCES administrator_contracts (code),
    scheme TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (code, scheme, seq)
);
