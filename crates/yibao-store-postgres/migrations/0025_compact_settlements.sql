-- Settlements stored compressed (issue 17): `claims.settlement` and the claim's counters
-- before and after it (`acc_before`, `acc_after`) become bytes. Every new claim's are zstd
-- frames; the rows written before keep their JSON, as UTF-8 bytes;
-- `yibao_store::compact::unpack` reads both. The two values SQL filters on move into
-- columns of their own, filled here from the JSON of the rows already written: the
-- national insurance type and the supplementary layer (`oth_pay`, two decimals always,
-- so its digits without the point are its fen).
--
-- The table is rewritten twice (the filling, then the three types in one statement),
-- under an exclusive lock: on a city's store, an upgrade's downtime (README, upgrades).
ALTER TABLE claims
    ADD COLUMN insutype TEXT NOT NULL DEFAULT '',
    ADD COLUMN supplementary_fen BIGINT NOT NULL DEFAULT 0 CHECK (supplementary_fen >= 0);
-- A row whose JSON does not parse (damaged) gets neither, and stays for the book check to
-- name: one damaged claim does not stop the upgrade.
CREATE FUNCTION pg_temp.stored_json(value text) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN value::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END
$$;
UPDATE claims c SET
    insutype = coalesce(s.stored ->> 'insutype', ''),
    supplementary_fen = CASE WHEN s.stored ->> 'oth_pay' ~ '^[0-9]+\.[0-9]{2}$'
        THEN replace(s.stored ->> 'oth_pay', '.', '')::bigint ELSE 0 END
FROM (SELECT ctid AS row_id, pg_temp.stored_json(settlement) AS stored FROM claims) s
WHERE c.ctid = s.row_id;
ALTER TABLE claims
    ALTER COLUMN settlement TYPE bytea USING convert_to(settlement, 'UTF8'),
    ALTER COLUMN acc_before TYPE bytea USING convert_to(acc_before::text, 'UTF8'),
    ALTER COLUMN acc_after TYPE bytea USING convert_to(acc_after::text, 'UTF8');
