-- Settlements stored compressed (issue 17): from this version `claims.settlement` holds a
-- zstd frame (a BLOB) for every new claim, and the rows written before keep their JSON text;
-- `yibao_store::compact::unpack` reads both. The two values SQL filters on move into
-- columns of their own, filled here from the JSON of the rows already written: the
-- national insurance type and the supplementary layer (`oth_pay`, two decimals always,
-- so its digits without the point are its fen).
ALTER TABLE claims ADD COLUMN insutype TEXT NOT NULL DEFAULT '';
ALTER TABLE claims ADD COLUMN supplementary_fen INTEGER NOT NULL DEFAULT 0 CHECK (supplementary_fen >= 0);
-- A row whose JSON does not parse (damaged) gets neither, and stays for the book check to
-- name: one damaged claim does not stop the upgrade.
UPDATE claims SET
    insutype = coalesce(json_extract(settlement, '$.insutype'), ''),
    supplementary_fen = coalesce(CAST(replace(json_extract(settlement, '$.oth_pay'), '.', '') AS INTEGER), 0)
WHERE json_valid(settlement);
-- The claim's counters before and after it (`acc_before`, `acc_after`) are compressed the
-- same way for every new claim; no statement is needed for that on SQLite.
