-- A payment year's clearing (年度清算, issue 15) per city, year and round (1, then the
-- supplementary rounds that book what changed in the year since): what each institution
-- earned under its agreement's methods against what its claims billed, and who paid its
-- cases; the difference is booked on its payable, owed or recovered. `record` is the JSON
-- record the book check plans the transfers again from.
CREATE TABLE payment_clearings (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    round       INTEGER NOT NULL,
    cleared_at  TEXT NOT NULL,
    actor       TEXT NOT NULL,
    record      TEXT NOT NULL,
    PRIMARY KEY (region_code, year, round)
);
