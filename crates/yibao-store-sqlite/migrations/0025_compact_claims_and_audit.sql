-- Claims stored compressed (issue 17): from this version `claims.claim`, the claim as the
-- institution submitted it, holds a zstd frame (a BLOB) for every new claim, compressed
-- against a dictionary trained on claims; the rows written before keep their JSON text, and
-- `yibao_store::compact::unpack` reads both. The six fields SQL reads from a claim move into
-- columns of their own (`yibao_store::compact::ClaimColumns`), filled here from the JSON of
-- the rows already written: each holds the field's JSON string, or NULL where the claim has
-- no string there. A row whose JSON does not parse (damaged) gets none, and stays for the
-- book check to name.
-- The index of visits by day reads the JSON (migration 22): it goes first, so that the
-- filling does not maintain it, and is made again on the columns below.
DROP INDEX claims_visits_by_day;
ALTER TABLE claims ADD COLUMN kind TEXT;
ALTER TABLE claims ADD COLUMN admission_date TEXT;
ALTER TABLE claims ADD COLUMN discharge_date TEXT;
ALTER TABLE claims ADD COLUMN institution_level TEXT;
ALTER TABLE claims ADD COLUMN diagnosis TEXT;
ALTER TABLE claims ADD COLUMN physician TEXT;
UPDATE claims SET
    kind = CASE WHEN json_type(claim, '$.kind') = 'text' THEN json_extract(claim, '$.kind') END,
    admission_date = CASE WHEN json_type(claim, '$.admission_date') = 'text' THEN json_extract(claim, '$.admission_date') END,
    discharge_date = CASE WHEN json_type(claim, '$.discharge_date') = 'text' THEN json_extract(claim, '$.discharge_date') END,
    institution_level = CASE WHEN json_type(claim, '$.institution_level') = 'text' THEN json_extract(claim, '$.institution_level') END,
    diagnosis = CASE WHEN json_type(claim, '$.diagnosis') = 'text' THEN json_extract(claim, '$.diagnosis') END,
    physician = CASE WHEN json_type(claim, '$.physician') = 'text' THEN json_extract(claim, '$.physician') END
WHERE json_valid(claim);
-- A person's live visits by day (migration 22), now on the columns: the query
-- (`visit_days_sql`) repeats these expressions word for word, so that SQLite uses it.
CREATE INDEX claims_visits_by_day ON claims (region_code, person_id, admission_date)
    WHERE status = 'settled' AND kind NOT IN ('inpatient', 'single-disease', 'day-surgery', 'maternity', 'pharmacy-purchase');
-- Audit entries stored compactly (issue 17): from this version an entry's `detail` holds a
-- zstd frame against a dictionary trained on details, and its `prev_hash` and `hash` hold
-- the digests' 32 bytes (BLOBs); the entries written before keep their text, and both read
-- the same (`yibao_store::audit::StoredAudit`). The hash chain is computed over the text
-- forms, so no entry's hash changes. No statement is needed for that on SQLite.
-- The claim keys (an institution's claim id names one claim, whatever the region) keyed by
-- their primary key alone: a rowid table kept the key twice, in the table and in its
-- index (about 90 bytes a claim, now about 45). The table is copied once.
CREATE TABLE claim_keys_by_key (
    institution_code TEXT NOT NULL,
    claim_id         TEXT NOT NULL,
    region_code      TEXT NOT NULL,
    PRIMARY KEY (institution_code, claim_id)
) WITHOUT ROWID;
INSERT INTO claim_keys_by_key (institution_code, claim_id, region_code) SELECT institution_code, claim_id, region_code FROM claim_keys;
DROP TABLE claim_keys;
ALTER TABLE claim_keys_by_key RENAME TO claim_keys;
