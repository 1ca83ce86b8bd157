-- Settlements stored compressed (issue 17): `claims.settlement` becomes bytes. Every new
-- claim's is a zstd frame; the rows written before keep their JSON, as UTF-8 bytes;
-- `yibao_store::compact::unpack` reads both. The two values SQL filters on move into
-- columns of their own, filled here from the JSON of the rows already written: the
-- national insurance type and the supplementary layer (`oth_pay`, two decimals always,
-- so its digits without the point are its fen).
ALTER TABLE claims
    ADD COLUMN insutype TEXT NOT NULL DEFAULT '',
    ADD COLUMN supplementary_fen BIGINT NOT NULL DEFAULT 0 CHECK (supplementary_fen >= 0);
UPDATE claims SET
    insutype = settlement::jsonb ->> 'insutype',
    supplementary_fen = replace(settlement::jsonb ->> 'oth_pay', '.', '')::bigint;
ALTER TABLE claims ALTER COLUMN settlement TYPE bytea USING convert_to(settlement, 'UTF8');
-- The claim's counters before and after it, compressed the same way from now on; the rows
-- written before keep their JSON, as UTF-8 bytes.
ALTER TABLE claims
    ALTER COLUMN acc_before TYPE bytea USING convert_to(acc_before::text, 'UTF8'),
    ALTER COLUMN acc_after TYPE bytea USING convert_to(acc_after::text, 'UTF8');
