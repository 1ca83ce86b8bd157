-- A social-security card number names one person in its county's register (issue 12): the
-- index that finds a person by card becomes unique. The store checks first and answers
-- `person.card_taken`; the index is the last guard.
DROP INDEX persons_by_card;
CREATE UNIQUE INDEX persons_by_card ON persons (region_code, card_no) WHERE card_no IS NOT NULL;
