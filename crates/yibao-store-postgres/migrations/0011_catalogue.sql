-- The dated national catalogue (issue 13, R-BEN-1): one row per version of an item, keyed
-- by item, region ('' for the nation) and first day. Rows are replaced by a correction and
-- deleted only when the source withdraws them: a settlement of any past date reads the
-- version of its day. Distributed by
-- region (Citus), it is a reference table: every region reads the same list.
CREATE TABLE catalogue_versions (
    code              TEXT NOT NULL CHECK (length(code) BETWEEN 1 AND 27),
    region_code       TEXT NOT NULL CHECK (region_code = '' OR length(region_code) = 6),
    begin_date        TEXT NOT NULL CHECK (length(begin_date) = 10),
    end_date          TEXT CHECK (end_date IS NULL OR (length(end_date) = 10 AND end_date >= begin_date)),
    list_type         TEXT NOT NULL CHECK (list_type IN ('101', '201', '301')),
    name              TEXT NOT NULL,
    class             TEXT NOT NULL CHECK (class IN ('A', 'B', 'C')),
    restricted        BOOLEAN NOT NULL,
    selfpay_share_bp  INTEGER CHECK (selfpay_share_bp BETWEEN 0 AND 10000),
    cap_township_fen  BIGINT CHECK (cap_township_fen > 0),
    cap_primary_fen   BIGINT CHECK (cap_primary_fen > 0),
    cap_secondary_fen BIGINT CHECK (cap_secondary_fen > 0),
    cap_tertiary_fen  BIGINT CHECK (cap_tertiary_fen > 0),
    cite              TEXT NOT NULL,
    PRIMARY KEY (code, region_code, begin_date)
);

-- Every load, numbered: what the bureau loaded when, and the stamp by which a server sees
-- that another process loaded a file.
CREATE TABLE catalogue_loads (
    seq       BIGINT PRIMARY KEY CHECK (seq > 0),
    loaded_at TEXT NOT NULL,
    loaded_by TEXT NOT NULL,
    detail    TEXT NOT NULL
);
