-- Policy pack versions as records (issue 19): every pack text put in force, who proposed it
-- against which version, and who approved or rejected it. The version in force is the
-- highest approved one.
CREATE TABLE policy_versions (
    version       INTEGER PRIMARY KEY CHECK (version > 0),
    pack_id       TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    text          TEXT NOT NULL,
    note          TEXT NOT NULL,
    based_on      INTEGER REFERENCES policy_versions (version),
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    proposed_by   TEXT NOT NULL,
    proposed_at   TEXT NOT NULL,
    decided_by    TEXT,
    decided_at    TEXT,
    decision_note TEXT,
    CHECK ((status = 'proposed') = (decided_by IS NULL))
);
CREATE INDEX policy_versions_approved ON policy_versions (status, version);

-- A new staff role, the policy officer (政策管理). SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt (SQLite's documented procedure: the migration runs with
-- foreign keys off and checks them before it commits).
CREATE TABLE staff_new (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('enrolment_clerk', 'claims_officer', 'fund_accountant', 'auditor', 'city_administrator', 'policy_officer')),
    region_code   TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL
);
INSERT INTO staff_new (username, display_name, password_hash, role, region_code, active, created_at)
    SELECT username, display_name, password_hash, role, region_code, active, created_at FROM staff;
DROP TABLE staff;
ALTER TABLE staff_new RENAME TO staff;
