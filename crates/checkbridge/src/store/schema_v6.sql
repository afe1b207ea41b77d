-- checkbridge schema, version 6: single sign-on through each tenant's OpenID Connect identity
-- provider.

-- A sign-in in progress: made when a reader is sent to the provider, taken (deleted) when
-- the provider sends them back, so a state and its code complete one sign-in at most, on
-- whichever replica the browser comes back to. Keyed by a SHA-256 of the state; the nonce
-- and PKCE verifier stay here, never in the browser. return_path is a path on this site.
-- Rows past expires_at are deleted when new sign-ins start.
CREATE TABLE sso_pending (
    state_hash    TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    return_path   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sso_pending_tenant ON sso_pending (tenant, expires_at);
CREATE INDEX sso_pending_expires ON sso_pending (expires_at);

-- Which reader an identity provider's user is: one per tenant, issuer and subject (the
-- provider's stable id for the person; an email can change hands, a subject does not).
CREATE TABLE sso_identities (
    tenant     TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, issuer, subject)
);
CREATE UNIQUE INDEX sso_identities_user ON sso_identities (user_id);
