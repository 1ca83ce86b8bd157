-- Stored settlements (about 3 kB of JSON each, with their explanation) are compressed with
-- lz4 rather than PostgreSQL's default pglz: measured on the HTTP benchmark, pglz was about
-- a tenth of the settlement writer's CPU time, and lz4 compresses several times faster. A
-- server built without lz4 keeps pglz (the statement is refused as not supported there).
DO $$
BEGIN
    EXECUTE 'ALTER TABLE claims ALTER COLUMN settlement SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported THEN
    NULL;
END
$$;
