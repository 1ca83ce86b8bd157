-- A designated institution's agreement book (JSON): the terms signed for each payment year,
-- suspensions and terminations from a day, inspections with their deductions (issue 15,
-- R-INS-1). Settlement refuses a date of service inside a suspension; the payment year reads
-- the terms. `{}` is the empty book.
ALTER TABLE institutions ADD COLUMN agreement TEXT NOT NULL DEFAULT '{}';
