-- Township and community health centres as an institution level of their own (issue 13):
-- many cities publish a lower deductible and a higher ratio for them than for level-1
-- hospitals.
ALTER TABLE institutions DROP CONSTRAINT institutions_level_check;
ALTER TABLE institutions ADD CONSTRAINT institutions_level_check CHECK (level IN ('township', 'primary', 'secondary', 'tertiary'));
