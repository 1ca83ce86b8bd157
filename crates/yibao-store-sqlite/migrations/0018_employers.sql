-- Employers (参保单位) and their monthly payroll declarations (缴费申报), issue 16 item 2
-- (R-FIN-1, R-FIN-4). A declaration's lines and its payment are JSON (the store's
-- DeclarationLine list and DeclarationPayment); each line's bills are the persons' own
-- contribution records, so what a declaration still owes is read from them.
CREATE TABLE employers (
    code          TEXT PRIMARY KEY,
    region_code   TEXT NOT NULL,
    name          TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    recorded_at   TEXT NOT NULL
);
CREATE INDEX employers_by_region ON employers (region_code, code);

CREATE TABLE employer_declarations (
    employer_code TEXT NOT NULL REFERENCES employers (code),
    period        TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    due_on        TEXT NOT NULL,
    lines         TEXT NOT NULL,
    due_fen       INTEGER NOT NULL CHECK (due_fen >= 0),
    declared_at   TEXT NOT NULL,
    payment       TEXT,
    PRIMARY KEY (employer_code, period)
);

-- Who declared a person's month: one employer a month, so two employers cannot bill the
-- same month twice, and a month on a declaration is paid only by the employer's payment
-- (with its late fee), never at the counter.
CREATE TABLE declared_months (
    person_id     TEXT NOT NULL,
    period        TEXT NOT NULL,
    employer_code TEXT NOT NULL REFERENCES employers (code),
    PRIMARY KEY (person_id, period)
);

-- Months of employee contributions a person carries in from elsewhere (a transfer
-- certificate, the legacy system): with those paid here, what R-FIN-1's minimum years
-- for retirement count.
CREATE TABLE carried_contribution_months (
    person_id   TEXT PRIMARY KEY,
    months      INTEGER NOT NULL CHECK (months >= 0),
    recorded_at TEXT NOT NULL
);
