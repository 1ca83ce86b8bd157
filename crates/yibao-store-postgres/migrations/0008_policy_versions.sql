-- Policy pack versions as records (issue 19): every pack text put in force, who proposed it
-- against which version, and who approved or rejected it. The version in force is the
-- highest approved one. Small and global (Citus: create_reference_table).
CREATE TABLE policy_versions (
    version       BIGINT PRIMARY KEY CHECK (version > 0),
    pack_id       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    text          TEXT NOT NULL,
    note          TEXT NOT NULL,
    based_on      BIGINT REFERENCES policy_versions (version),
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    proposed_by   TEXT NOT NULL,
    proposed_at   TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT,
    CHECK ((status = 'proposed') = (decided_by IS NULL))
);
CREATE INDEX policy_versions_approved ON policy_versions (status, version);

-- A new staff role, the policy officer (政策管理).
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('enrolment_clerk', 'claims_officer', 'fund_accountant', 'auditor', 'city_administrator', 'policy_officer'));
