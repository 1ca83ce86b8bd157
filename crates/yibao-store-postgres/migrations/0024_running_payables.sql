-- What each unit's insured owe each payee, kept as transfers post (issue 17): a credit to a
-- payable account adds to its unit and payee, a debit takes off. The monthly pooling run
-- reads it, less what was dated after its value date, instead of summing every payable
-- transfer up to that date, so a run costs what a month holds, not the city's history.
-- The book check sums the transfers again and compares (`payables-match`).
CREATE TABLE ledger_payables (
    region_code     TEXT NOT NULL,
    fund_scheme     TEXT NOT NULL,
    unit_code       TEXT NOT NULL,
    payee           TEXT NOT NULL,
    outstanding_fen BIGINT NOT NULL,
    PRIMARY KEY (region_code, fund_scheme, unit_code, payee)
);
INSERT INTO ledger_payables (region_code, fund_scheme, unit_code, payee, outstanding_fen)
SELECT region_code, fund_scheme, unit_code, payee, SUM(amount) FROM (
    SELECT region_code, fund_scheme, unit_code, credit_holder AS payee, amount_fen AS amount FROM ledger_transfers WHERE credit_kind = 'payable'
    UNION ALL
    SELECT region_code, fund_scheme, unit_code, debit_holder, -amount_fen FROM ledger_transfers WHERE debit_kind = 'payable'
) AS sides GROUP BY region_code, fund_scheme, unit_code, payee;
