-- Arrears repaid in instalments (欠费分期补缴, R-FIN-4, issue 16 item 4). A plan's periods,
-- schedule and payments are JSON (the store's PlanPeriod, Instalment and PlanPaymentRecord
-- lists); its payments are the persons' own contribution records, so the books need
-- nothing of it.
CREATE TABLE arrears_plans (
    person_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    region_code TEXT NOT NULL,
    agreed_on   TEXT NOT NULL,
    periods     TEXT NOT NULL,
    total_fen   INTEGER NOT NULL CHECK (total_fen > 0),
    schedule    TEXT NOT NULL,
    payments    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (person_id, seq)
);
-- One open plan a person.
CREATE UNIQUE INDEX arrears_plans_open ON arrears_plans (person_id) WHERE status = 'open';

-- The periods of the open plans: paid only as instalments while their plan is open (a
-- counter payment or a declaration of one is refused), deleted when it completes.
CREATE TABLE arrears_plan_periods (
    person_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    period    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (person_id, kind, period)
);

-- A contribution loaded from the legacy system at go-live (issue 16 item 1): when it was
-- paid is the legacy system's, not the day it was loaded, so the standing check counts a
-- period it paid in full as paid before go-live (it never suspended benefits here).
ALTER TABLE contributions ADD COLUMN migrated INTEGER NOT NULL DEFAULT 0 CHECK (migrated IN (0, 1));

-- The employers a go-live migration registered (its reconciliation counts them by county
-- against the legacy system's own count).
CREATE TABLE migration_employers (
    migration_id TEXT NOT NULL,
    code         TEXT PRIMARY KEY REFERENCES employers (code)
);
