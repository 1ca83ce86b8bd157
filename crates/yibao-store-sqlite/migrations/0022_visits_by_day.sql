-- A person's live visits by day of service (issue 18): a monitoring rule over history counts
-- the visits of a person within days of a claim, latest first, and stops at its limit; this
-- index walks back from the claim's day, so a person with a thousand visits costs no more
-- to read than the rule's limit. Stays and pharmacy purchases are left out (the kinds
-- `NOT_VISIT_KINDS_SQL` names), as is
-- a reversed claim. The query repeats these expressions word for word, so that SQLite uses it.
CREATE INDEX claims_visits_by_day ON claims (region_code, person_id, json_extract(claim, '$.admission_date'))
    WHERE status = 'settled' AND json_extract(claim, '$.kind') NOT IN ('inpatient', 'single-disease', 'day-surgery', 'maternity', 'pharmacy-purchase');
