-- A legacy extract's designated institutions (定点医药机构, issue 16 item 1), each loaded
-- with the migration's first batch: its reconciliation counts them by county.
CREATE TABLE migration_institutions (
    migration_id TEXT NOT NULL,
    code         TEXT NOT NULL PRIMARY KEY
);

-- Inpatient stays open at a migration's cut-off (在院未结算, issue 16 item 1) are visits of
-- the national interface like any admission, marked with the migration that brought them
-- (its reconciliation counts them); a hospital finds a person's visits by the person (5201).
ALTER TABLE visits ADD COLUMN migration_id TEXT;
CREATE INDEX visits_by_person ON visits (institution_code, person_id);
CREATE INDEX visits_by_migration ON visits (migration_id) WHERE migration_id IS NOT NULL;

-- A payment's receipt (收据号), a person's once, at the counter or under a repayment plan:
-- a counter payment's record kept beside it (region_code, seq), so the same payment sent
-- again is answered with that record; a plan's payments are in the plan, its receipts here
-- so that neither path records a receipt the other did (those plans already hold, copied).
CREATE TABLE contribution_receipts (
    person_id   TEXT NOT NULL,
    receipt     TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('counter', 'plan')),
    region_code TEXT,
    seq         BIGINT,
    PRIMARY KEY (person_id, receipt),
    CHECK ((source = 'counter') = (seq IS NOT NULL))
);
INSERT INTO contribution_receipts (person_id, receipt, source)
SELECT DISTINCT a.person_id, p->>'receipt', 'plan' FROM arrears_plans a CROSS JOIN LATERAL jsonb_array_elements(a.payments) p
WHERE COALESCE(p->>'receipt', '') <> ''
ON CONFLICT DO NOTHING;
