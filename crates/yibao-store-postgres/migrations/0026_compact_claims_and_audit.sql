-- Claims and audit entries stored compressed (issue 17). `claims.claim`, the claim as the institution
-- submitted it, becomes bytes. Every new claim's is a zstd frame, compressed against a
-- dictionary trained on claims; the rows written before keep their JSON, as UTF-8 bytes;
-- `yibao_store::compact::unpack` reads both. The six fields SQL reads from a claim move into
-- columns of their own (`yibao_store::compact::ClaimColumns`), filled here from the JSON of
-- the rows already written: each holds the field's JSON string, or NULL where the claim has
-- no string there. A row whose JSON does not parse (damaged) gets none, and stays for the
-- book check to name.
--
-- The table is rewritten twice (the filling, then the type), under an exclusive lock: on a
-- city's store, an upgrade's downtime (README, upgrades).
ALTER TABLE claims
    ADD COLUMN kind TEXT,
    ADD COLUMN admission_date TEXT,
    ADD COLUMN discharge_date TEXT,
    ADD COLUMN institution_level TEXT,
    ADD COLUMN diagnosis TEXT,
    ADD COLUMN physician TEXT;
-- The index of a person's live visits by day (migration 23) reads the JSON: it goes first,
-- so that the filling below does not maintain it, and is made again on the columns at the
-- end. The query (`visit_days`) repeats its expressions, so that the planner uses it.
DROP INDEX claims_visits_by_day;
CREATE FUNCTION pg_temp.claim_json(value text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
CREATE FUNCTION pg_temp.text_field(claim jsonb, field text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(claim -> field) = 'string' THEN claim ->> field END
$$;
UPDATE claims c SET
    kind = pg_temp.text_field(s.stored, 'kind'),
    admission_date = pg_temp.text_field(s.stored, 'admission_date'),
    discharge_date = pg_temp.text_field(s.stored, 'discharge_date'),
    institution_level = pg_temp.text_field(s.stored, 'institution_level'),
    diagnosis = pg_temp.text_field(s.stored, 'diagnosis'),
    physician = pg_temp.text_field(s.stored, 'physician')
FROM (SELECT ctid AS row_id, pg_temp.claim_json(claim) AS stored FROM claims) s
WHERE c.ctid = s.row_id AND s.stored IS NOT NULL;
ALTER TABLE claims ALTER COLUMN claim TYPE bytea USING convert_to(claim, 'UTF8');
CREATE INDEX claims_visits_by_day ON claims (region_code, person_id, admission_date)
    WHERE status = 'settled' AND kind NOT IN ('inpatient', 'single-disease', 'day-surgery', 'maternity', 'pharmacy-purchase');
-- Audit entries stored compactly (issue 17): an entry's `detail` becomes bytes (a zstd
-- frame against a dictionary trained on details for every new entry; the JSON's UTF-8
-- bytes for the entries written before), and its `prev_hash` and `hash` the digests' 32
-- bytes (`yibao_store::audit::StoredAudit`). A stored digest that is not 64 hex digits
-- (damaged) keeps its text's bytes, for `audit verify` to name. The hash chain is computed
-- over the text forms, so no entry's hash changes. The append-only triggers are row
-- triggers, which a change of type does not fire.
ALTER TABLE audit_log
    ALTER COLUMN detail TYPE bytea USING convert_to(detail, 'UTF8'),
    ALTER COLUMN prev_hash TYPE bytea USING CASE WHEN prev_hash ~ '^[0-9a-f]{64}$' THEN decode(prev_hash, 'hex') ELSE convert_to(prev_hash, 'UTF8') END,
    ALTER COLUMN hash TYPE bytea USING CASE WHEN hash ~ '^[0-9a-f]{64}$' THEN decode(hash, 'hex') ELSE convert_to(hash, 'UTF8') END;
