-- Arrears repaid in instalments (欠费分期补缴, R-FIN-4, issue 16 item 4). A plan's periods,
-- schedule and payments are JSON (the store's PlanPeriod, Instalment and PlanPaymentRecord
-- lists); its payments are the persons' own contribution records, so the books need
-- nothing of it.
CREATE TABLE arrears_plans (
    person_id   text NOT NULL,
    seq         bigint NOT NULL CHECK (seq >= 1),
    region_code text NOT NULL,
    agreed_on   text NOT NULL,
    periods     jsonb NOT NULL,
    total_fen   bigint NOT NULL CHECK (total_fen > 0),
    schedule    jsonb NOT NULL,
    payments    jsonb NOT NULL,
    status      text NOT NULL CHECK (status IN ('open', 'completed')),
    recorded_at text NOT NULL,
    PRIMARY KEY (person_id, seq)
);
-- One open plan a person.
CREATE UNIQUE INDEX arrears_plans_open ON arrears_plans (person_id) WHERE status = 'open';

-- The periods of the open plans: paid only as instalments while their plan is open (a
-- counter payment or a declaration of one is refused), deleted when it completes.
CREATE TABLE arrears_plan_periods (
    person_id text NOT NULL,
    kind      text NOT NULL,
    period    text NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (person_id, kind, period)
);

-- A contribution loaded from the legacy system at go-live (issue 16 item 1): when it was
-- paid is the legacy system's, not the day it was loaded, so the standing check counts a
-- period it paid in full as paid before go-live (it never suspended benefits here).
ALTER TABLE contributions ADD COLUMN migrated boolean NOT NULL DEFAULT false;

-- The employers a go-live migration registered (its reconciliation counts them by county
-- against the legacy system's own count).
CREATE TABLE migration_employers (
    migration_id text NOT NULL,
    code         text PRIMARY KEY REFERENCES employers (code)
);
