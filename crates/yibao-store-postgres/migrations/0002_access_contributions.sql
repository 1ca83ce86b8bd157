-- Staff, sessions, designated institutions (R-GEO-2 region scope) and contributions (R-FIN-4).
-- The same tables as SQLite's 0002, in PostgreSQL types: flags BOOLEAN, money in fen and
-- sequence numbers BIGINT, times TEXT (RFC 3339, as the actor gave them, so a session's
-- expiry reads back exactly as it was written).
--
-- Distribution (Citus): staff, sessions and institutions are small and global
-- (create_reference_table); contributions and contribution_seqs are regional
-- (create_distributed_table(<t>, 'region_code')).
CREATE TABLE staff (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('enrolment_clerk', 'claims_officer', 'fund_accountant', 'auditor', 'city_administrator')),
    region_code   TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TEXT NOT NULL
);

-- Opaque session tokens, stored as SHA-256 digests; revocable at once.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES staff (username),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_by_user ON sessions (username);

CREATE TABLE institutions (
    code         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('primary', 'secondary', 'tertiary')),
    api_key_hash TEXT NOT NULL UNIQUE,
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TEXT NOT NULL
);
CREATE INDEX institutions_by_region ON institutions (region_code, code);

-- Each region's contributions are numbered 1, 2, 3... The counter row is incremented and
-- locked until the recording transaction ends, so concurrent recorders in one region take
-- numbers one after the other, and a rolled-back recording gives its number back.
CREATE TABLE contribution_seqs (
    region_code TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL
);

CREATE TABLE contributions (
    region_code TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    person_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('resident', 'employee', 'supplementary')),
    period      TEXT NOT NULL,
    due_fen     BIGINT NOT NULL CHECK (due_fen >= 0),
    paid_fen    BIGINT NOT NULL CHECK (paid_fen >= 0),
    breakdown   TEXT NOT NULL,            -- returned byte-identical
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (region_code, seq),
    FOREIGN KEY (region_code, person_id) REFERENCES persons (region_code, person_id)
);
CREATE INDEX contributions_by_person ON contributions (region_code, person_id, period);
