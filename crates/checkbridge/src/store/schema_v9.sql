-- checkbridge schema, version 9: the candidate's part. A check whose invitation lacks what
-- the candidate can supply waits on the candidate (checks.phase = 'candidate') with one row
-- here: the form link's token (its SHA-256 for lookup; the token itself sealed, so a resent
-- mail carries the same link), the canonical invitation as PageUp sent it (sealed), and the
-- mail owed (the invitation, then each reminder) as a column, leased like all owed work.
-- needs: a JSON list of what the candidate is asked for (field names, never values).
-- draft: what the candidate entered so far, sealed, between the form's steps.
-- state: invited | submitted | expired | refused (the mail server refused the address). The sealed columns are emptied when the request
-- ends (submitted: the order holds what is needed; expired: purged).
CREATE TABLE candidate_requests (
    check_id          TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    token_hash        TEXT NOT NULL UNIQUE,
    token_sealed      TEXT,
    state             TEXT NOT NULL,
    needs             TEXT NOT NULL,
    invitation        TEXT,
    draft             TEXT,
    invited_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    mail_due_at       BIGINT,
    mails_sent        BIGINT NOT NULL DEFAULT 0,
    mail_attempts     BIGINT NOT NULL DEFAULT 0,
    mail_error        TEXT,
    mail_lease_until  BIGINT,
    mail_lease_owner  TEXT,
    submitted_at      BIGINT,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX candidate_mail_due ON candidate_requests (mail_due_at) WHERE mail_due_at IS NOT NULL;
CREATE INDEX candidate_expiry ON candidate_requests (expires_at) WHERE state = 'invited';
CREATE INDEX candidate_tenant ON candidate_requests (tenant);
