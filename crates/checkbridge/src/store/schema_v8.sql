-- checkbridge schema, version 8: go-live certifications (`checkbridge certify`).

-- One row per run of `certify` for a tenant. env: uat | live. outcome: pass (every step
-- passed, with a test check run through), fail (a step failed) or partial (no test check
-- was given, so the check's steps did not run). steps: a JSON list of the numbered steps
-- as the sign-off report shows them (name, outcome, detail, fix, times); never candidate
-- data. report_sha256: of the HTML sign-off report written, to tell a kept copy is the one.
CREATE TABLE certifications (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    env           TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    pageup_check  TEXT,
    steps         TEXT NOT NULL,
    report_sha256 TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT NOT NULL
);
CREATE INDEX certifications_tenant ON certifications (tenant, env, finished_at);
