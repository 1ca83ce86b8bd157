-- Maternity insurance contributions (生育保险费, issue 13): the employer's monthly
-- contribution for an employee with maternity insurance, paid into the maternity fund.
ALTER TABLE contributions DROP CONSTRAINT contributions_kind_check;
ALTER TABLE contributions ADD CONSTRAINT contributions_kind_check CHECK (kind IN ('resident', 'employee', 'supplementary', 'maternity'));
