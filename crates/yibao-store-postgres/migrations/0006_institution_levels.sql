-- An institution's level changes with the day each applies from (JSON, oldest first): a
-- claim is settled at the level in force on its date of service (issue 11).
ALTER TABLE institutions ADD COLUMN level_changes TEXT NOT NULL DEFAULT '[]';
