-- checkbridge schema, version 7: the shape of each tenant's PageUp invitations, so that a
-- change in PageUp's payload under a live customer is noticed (intake::drift).

-- One row per tenant. known_paths: a JSON list, sorted, of the field paths seen in its
-- invitations: key names only, never values; GUID-named keys left out; list indexes
-- written []. drift: while a "PageUp payload changed" issue is open, a JSON object
-- {"new": [...], "missing": [...]} of the paths that opened it; NULL otherwise. read_paths:
-- a JSON list of the paths the tenant's mapping reads (a lack of one is a drift).
-- baseline_done: 1 once the first invitations (intake::drift::BASELINE) made the baseline.
CREATE TABLE intake_shapes (
    tenant      TEXT PRIMARY KEY,
    known_paths TEXT NOT NULL,
    drift       TEXT,
    read_paths  TEXT NOT NULL,
    baseline_done BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
