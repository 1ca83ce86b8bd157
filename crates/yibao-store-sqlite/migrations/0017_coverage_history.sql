-- A person's coverage over time (issue 16 item 3, R-ENR-5): the spells before the one in
-- force, oldest first (the engine's PastCoverage list, JSON). A county move leaves the
-- person's row in the old county with its coverage ended (the county's record of whom it
-- insured, and what its contributions refer to) and opens one in the new county, which
-- the index then names.
ALTER TABLE persons ADD COLUMN history TEXT NOT NULL DEFAULT '[]';
-- The day a person died, when the register was told (coverage ends on it; no re-enrolment).
ALTER TABLE persons ADD COLUMN died_on TEXT;
