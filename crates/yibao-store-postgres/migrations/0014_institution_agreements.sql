-- A designated institution's agreement book (JSON): the terms signed for each payment year,
-- suspensions and terminations from a day, inspections with their deductions (issue 15,
-- R-INS-1). Settlement refuses a date of service inside a suspension; the payment year reads
-- the terms. `{}` is the empty book.
ALTER TABLE institutions ADD COLUMN agreement TEXT NOT NULL DEFAULT '{}';

-- Insurance physicians (医保医师, R-INS-2) registered under an institution, with their
-- penalty points and the suspensions they brought (JSON `book`, `{}` empty). A claim may
-- name its physician; settlement refuses one who may not bill on the date of service.
CREATE TABLE physicians (
    code TEXT PRIMARY KEY,
    institution_code TEXT NOT NULL REFERENCES institutions (code),
    region_code TEXT NOT NULL,
    name TEXT NOT NULL,
    registered_on TEXT NOT NULL,
    book TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX physicians_by_institution ON physicians (institution_code, code);
