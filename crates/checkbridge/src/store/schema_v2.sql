-- checkbridge schema, version 2: health issues with their alert outbox, and roles for the
-- people who sign in (readers of one tenant's reports, or operators of the service).

-- A health issue is open while resolved_at is NULL; at most one is open per tenant, kind
-- and subject. Opening and resolving each owe one alert: open_alert_due_at and
-- resolve_alert_due_at are set when owed and cleared when the alert was delivered (or is
-- not to be sent), in the same statement that opens or resolves the issue.
CREATE TABLE health_issues (
    id                   TEXT PRIMARY KEY,
    tenant               TEXT NOT NULL,
    kind                 TEXT NOT NULL,         -- auth | operation | webhook_verification | stuck_checks
    subject              TEXT NOT NULL,         -- pageup | theary | pageup.list | owed | ...
    summary              TEXT NOT NULL,         -- plain words for an operator (no PII)
    opened_at            BIGINT NOT NULL,
    last_seen_at         BIGINT NOT NULL,
    resolved_at          BIGINT,
    open_alert_due_at    BIGINT,
    resolve_alert_due_at BIGINT,
    alert_attempts       BIGINT NOT NULL DEFAULT 0,
    alert_error          TEXT,
    alert_lease_until    BIGINT,
    alert_lease_owner    TEXT
);
CREATE UNIQUE INDEX health_issues_open ON health_issues (tenant, kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX health_issues_tenant ON health_issues (tenant, opened_at);

-- reader: sees its tenant's reports. operator: sees the operator page (all tenants' health,
-- checks without candidate data, the error log), never a report.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'reader';
