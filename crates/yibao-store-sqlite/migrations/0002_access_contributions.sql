-- Staff, sessions, designated institutions (R-GEO-2 region scope) and contributions (R-FIN-4).
CREATE TABLE staff (
    username      TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('enrolment_clerk', 'claims_officer', 'fund_accountant', 'auditor', 'city_administrator')),
    region_code   TEXT NOT NULL,
    active        INTEGER NOT NULL DEFAULT 1,
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
    active       INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT NOT NULL
);

CREATE TABLE contributions (
    region_code TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    person_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('resident', 'employee', 'supplementary')),
    period      TEXT NOT NULL,
    due_fen     INTEGER NOT NULL CHECK (due_fen >= 0),
    paid_fen    INTEGER NOT NULL CHECK (paid_fen >= 0),
    breakdown   TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (region_code, seq),
    FOREIGN KEY (region_code, person_id) REFERENCES persons (region_code, person_id)
);
CREATE INDEX contributions_by_person ON contributions (region_code, person_id, period);
