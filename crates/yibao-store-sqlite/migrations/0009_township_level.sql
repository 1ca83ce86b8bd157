-- Township and community health centres as an institution level of their own (issue 13):
-- many cities publish a lower deductible and a higher ratio for them than for level-1
-- hospitals. SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- (SQLite's documented procedure: the migration runs with foreign keys off and checks them
-- before it commits).
CREATE TABLE institutions_new (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    level         TEXT NOT NULL CHECK (level IN ('township', 'primary', 'secondary', 'tertiary')),
    api_key_hash  TEXT NOT NULL UNIQUE,
    active        INTEGER NOT NULL DEFAULT 1,
    created_at    TEXT NOT NULL,
    level_changes TEXT NOT NULL DEFAULT '[]'
);
INSERT INTO institutions_new (code, name, region_code, level, api_key_hash, active, created_at, level_changes)
    SELECT code, name, region_code, level, api_key_hash, active, created_at, level_changes FROM institutions;
DROP TABLE institutions;
ALTER TABLE institutions_new RENAME TO institutions;
