-- Maternity insurance contributions (生育保险费, issue 13): the employer's monthly
-- contribution for an employee with maternity insurance, paid into the maternity fund.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt (SQLite's
-- documented procedure: the migration runs with foreign keys off and checks them before it
-- commits).
CREATE TABLE contributions_new (
    region_code TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    person_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('resident', 'employee', 'supplementary', 'maternity')),
    period      TEXT NOT NULL,
    due_fen     INTEGER NOT NULL CHECK (due_fen >= 0),
    paid_fen    INTEGER NOT NULL CHECK (paid_fen >= 0),
    breakdown   TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (region_code, seq),
    FOREIGN KEY (region_code, person_id) REFERENCES persons (region_code, person_id)
);
INSERT INTO contributions_new (region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at)
    SELECT region_code, seq, person_id, kind, period, due_fen, paid_fen, breakdown, recorded_at FROM contributions;
DROP TABLE contributions;
ALTER TABLE contributions_new RENAME TO contributions;
CREATE INDEX contributions_by_person ON contributions (region_code, person_id, period);
