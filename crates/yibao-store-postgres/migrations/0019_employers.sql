-- Employers (参保单位) and their monthly payroll declarations (缴费申报), issue 16 item 2
-- (R-FIN-1, R-FIN-4). A declaration's lines and its payment are JSON (the store's
-- DeclarationLine list and DeclarationPayment); each line's bills are the persons' own
-- contribution records, so what a declaration still owes is read from them.
CREATE TABLE employers (
    code          text PRIMARY KEY,
    region_code   text NOT NULL,
    name          text NOT NULL,
    registered_on text NOT NULL,
    recorded_at   text NOT NULL
);
CREATE INDEX employers_by_region ON employers (region_code, code);

CREATE TABLE employer_declarations (
    employer_code text NOT NULL REFERENCES employers (code),
    period        text NOT NULL,
    region_code   text NOT NULL,
    due_on        text NOT NULL,
    lines         jsonb NOT NULL,
    due_fen       bigint NOT NULL CHECK (due_fen >= 0),
    declared_at   text NOT NULL,
    payment       jsonb,
    PRIMARY KEY (employer_code, period)
);

-- Who declared a person's month: one employer a month, so two employers cannot bill the
-- same month twice, and a month on a declaration is paid only by the employer's payment
-- (with its late fee), never at the counter.
CREATE TABLE declared_months (
    person_id     text NOT NULL,
    period        text NOT NULL,
    employer_code text NOT NULL REFERENCES employers (code),
    PRIMARY KEY (person_id, period)
);

-- Months of employee contributions a person carries in from elsewhere (a transfer
-- certificate, the legacy system): with those paid here, what R-FIN-1's minimum years
-- for retirement count.
CREATE TABLE carried_contribution_months (
    person_id   text PRIMARY KEY,
    months      integer NOT NULL CHECK (months >= 0),
    recorded_at text NOT NULL
);
