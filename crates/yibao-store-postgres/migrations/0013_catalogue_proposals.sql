-- Catalogue loads proposed by one policy officer and decided by another (issue 13): the
-- file is kept as sent, with its dry run's counts, until it is approved (and loaded in the
-- same transaction) or rejected.
CREATE TABLE catalogue_proposals (
    seq         BIGINT PRIMARY KEY CHECK (seq > 0),
    proposed_at TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    detail      TEXT NOT NULL,
    file_bytes  BYTEA NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected')),
    decided_by  TEXT,
    decided_at  TEXT,
    note        TEXT,
    CHECK ((status = 'proposed') = (decided_by IS NULL))
);
