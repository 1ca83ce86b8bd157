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
