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
UPDATE claims SET
    insutype = coalesce(settlement::jsonb ->> 'insutype', ''),
    supplementary_fen = coalesce(replace(settlement::jsonb ->> 'oth_pay', '.', '')::bigint, 0);
ALTER TABLE claims
    ALTER COLUMN settlement TYPE bytea USING convert_to(settlement, 'UTF8'),
    ALTER COLUMN acc_before TYPE bytea USING convert_to(acc_before::text, 'UTF8'),
    ALTER COLUMN acc_after TYPE bytea USING convert_to(acc_after::text, 'UTF8');
