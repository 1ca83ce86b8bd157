-- Go-live migrations of a legacy system's register (issue 16): one row per migration of a
-- city, named by its files' digest; the record (batches loaded, legacy totals, the
-- reconciliation and its sign-off) as JSON, written in the same transaction as each batch.
CREATE TABLE migrations (
    region_code TEXT NOT NULL,
    id          TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (region_code, id)
);

-- Who each migration enrolled: its reconciliation counts these persons, their households,
-- contributions and accumulators, and nothing else the counties hold.
CREATE TABLE migration_persons (
    region_code  TEXT NOT NULL,
    person_id    TEXT NOT NULL,
    migration_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    PRIMARY KEY (region_code, person_id)
);
CREATE INDEX migration_persons_by_migration ON migration_persons (migration_id, person_id);
